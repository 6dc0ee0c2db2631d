"""Campaign files: reading a results store without losing a record, writing atomically.

``results.jsonl`` holds one JSON object per injection (see :mod:`ftvoter.sim.results`).
Everything that reads it (``ftvoter campaign --resume``, ``summary``, ``report``,
``availability --campaign``) goes through :func:`read_results`, so every reader counts
the same records: each ``id`` once (the first line that holds it), a torn last line (a
write cut short) left out, and any other line that is not a result record set aside with
its line number, never taken for the end of the file.
"""

import errno
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["OUTCOMES", "OutputError", "Results", "read_results", "write_atomic"]

#: The outcome classes (DESIGN.md §4), in report order (names are a contract).
OUTCOMES = ("masked", "latent", "corrected", "isolated", "wrong_lane", "recovered", "halted",
            "late", "false_alarm", "sdc", "hang", "sim_error")


class OutputError(OSError):
    """A file cannot be written; ``str()`` is one line naming the file and the reason.

    ``usage`` is true when the path itself is wrong (a folder that is a file, no
    permission), false when the write failed (a full disk, an I/O error).
    """

    def __init__(self, path, error):
        reason = error.strerror or str(error)
        super().__init__(error.errno, f"cannot write {path}: {reason}")
        self.usage = error.errno not in (errno.ENOSPC, errno.EIO, errno.EDQUOT)

    def __str__(self):
        return self.strerror


def _check_folder(path):
    """Raise :class:`OutputError` if a file stands where ``path``'s folder would be, or
    ``path`` itself is a folder."""
    if path.is_dir():
        raise OutputError(path, OSError(errno.EISDIR, "it is a folder"))
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(path, OSError(errno.ENOTDIR,
                                                f"{parent} is a file, not a folder"))
            return


def write_atomic(path, data):
    """Write ``data`` (text or bytes) to ``path`` so that it is never half-written.

    The data goes to a temporary file in the same folder, is synced to disk, then renamed
    over ``path``; on any failure the temporary file is removed and :class:`OutputError`
    is raised (the old ``path``, if any, is left as it was).
    """
    path = Path(path)
    if not path.name or path.name in (".", ".."):
        raise OutputError(path, OSError(errno.EISDIR, "it is a folder"))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _check_folder(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(data if isinstance(data, bytes) else data.encode())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise OutputError(path, error) from None


@dataclass
class Results:
    """What :func:`read_results` found in a ``results.jsonl``.

    ``records`` are the good records, one per id, in file order; ``bad`` lists
    ``(line_number, reason, raw_bytes)`` of the lines that are not result records, and
    ``repeated`` the same of the lines whose id was already recorded (``duplicates``
    counts them); ``torn`` is true when the
    last line was cut short (no newline, not a complete record); ``good_lines`` are the
    raw lines of ``records`` (what a repaired file holds).
    """
    path: Path
    records: list = field(default_factory=list)
    bad: list = field(default_factory=list)
    repeated: list = field(default_factory=list)
    torn: bool = False
    good_lines: list = field(default_factory=list)

    @property
    def duplicates(self):
        """Lines whose id an earlier line already holds."""
        return len(self.repeated)

    @property
    def clean(self):
        """True when the file holds only good, distinct, complete records."""
        return not self.bad and not self.duplicates and not self.torn

    def problems(self):
        """One line describing what was set aside (empty when the file is clean)."""
        parts = []
        if self.bad:
            numbers = ", ".join(str(number) for number, _, _ in self.bad[:5])
            more = f" and {len(self.bad) - 5} more" if len(self.bad) > 5 else ""
            parts.append(f"{len(self.bad)} line(s) that are not result records "
                         f"(line {numbers}{more}: {self.bad[0][1]})")
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicated id(s), each counted once")
        if self.torn:
            parts.append("a torn last line (an interrupted write), left out")
        return f"{self.path}: " + "; ".join(parts) if parts else ""


def _check(record, planned):
    """The reason a parsed line is not a result record, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    number = record.get("id")
    if not isinstance(number, int) or isinstance(number, bool) or number < 0:
        return f"no valid id ({number!r})"
    if planned is not None and number >= planned:
        return f"id {number} is not in the plan (0 to {planned - 1})"
    if record.get("outcome") not in OUTCOMES:
        return f"unknown outcome {record.get('outcome')!r}"
    return None


def read_results(path, *, planned=None):
    """Read a results file; return :class:`Results` (a missing file reads as empty).

    ``planned``, if given, is the number of planned injections: an id outside
    ``range(planned)`` is a bad line.
    """
    path = Path(path)
    found = Results(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return found
    seen = set()
    lines = data.splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        last = number == len(lines)
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            reason = _check(record, planned)
        except (ValueError, RecursionError):
            record, reason = None, "not valid JSON"
        if reason is not None:
            if last and not line.endswith(b"\n"):
                found.torn = True
            else:
                found.bad.append((number, reason, line))
            continue
        if record["id"] in seen:
            found.repeated.append((number, f"duplicate id {record['id']}", line))
            continue
        seen.add(record["id"])
        found.records.append(record)
        found.good_lines.append(line if line.endswith(b"\n") else line + b"\n")
    return found
