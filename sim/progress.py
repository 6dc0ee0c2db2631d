"""The campaign's progress line on standard error: count, share, rate and ETA."""

import math
import sys
import time

__all__ = ["Progress"]


class Progress:
    """A one-line progress display of ``total`` injections, ``done`` of them at the start.

    On a terminal the line is redrawn in place (at most five times a second); otherwise a
    new line is written every five seconds. :meth:`show` with ``final`` always writes.
    """

    def __init__(self, total, done, stream=sys.stderr):
        self.total, self.start_done = total, done
        self.started = time.monotonic()
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def show(self, done, final=False):
        """Show ``done`` injections recorded (if it is time to)."""
        now = time.monotonic()
        if not final and now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = (done - self.start_done) / elapsed
        left = self.total - done
        eta = left / rate if rate > 0 else math.inf
        eta_text = "--:--" if math.isinf(eta) else f"{int(eta) // 60}:{int(eta) % 60:02d}"
        share = 100 * done / self.total if self.total else 100
        width = 30
        filled = int(width * done / self.total) if self.total else width
        line = (f"  [{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} "
                f"{share:5.1f}%  {rate:8.0f} inj/s  ETA {eta_text}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
