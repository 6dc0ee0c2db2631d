"""Campaign results: an append-only JSON-lines file and a manifest, safe to resume.

``DIR/results.jsonl`` holds one JSON object per injection, each with a unique ``id``;
lines are only ever appended, flushed and synced in batches. ``DIR/manifest.json`` (spec,
seed, versions, sites) is written atomically. After a crash or a kill, reopening with
``resume=True`` drops a torn last line (a write cut short), reports which ids are done, and
refuses to record any id twice; the manifest must match the one on disk, so a resumed run
cannot mix two campaigns.
"""

import json
import os
from pathlib import Path

from .toolchain import write_atomic

__all__ = ["ResultStore", "ResultStoreError", "discard"]


class ResultStoreError(RuntimeError):
    """The result folder cannot be used as asked; the message is one line."""


def discard(directory):
    """Delete a campaign's results from ``directory`` (not the folder's other files)."""
    import shutil
    directory = Path(directory)
    for name in ("results.jsonl", "manifest.json"):
        (directory / name).unlink(missing_ok=True)
    for name in ("shards", "logs"):
        shutil.rmtree(directory / name, ignore_errors=True)


class ResultStore:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.results = self.directory / "results.jsonl"
        self.manifest = self.directory / "manifest.json"
        self._done = set()
        self._handle = None

    @property
    def done(self):
        """Ids already recorded."""
        return frozenset(self._done)

    def open(self, manifest, *, resume=False):
        """Start (or, with ``resume``, continue) a campaign described by ``manifest``."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.results.exists() or self.manifest.exists():
            if not resume:
                raise ResultStoreError(f"{self.directory} already holds a campaign; use "
                                       f"--resume to continue it, or another folder")
            try:
                existing = json.loads(self.manifest.read_text())
            except (OSError, ValueError):
                raise ResultStoreError(f"{self.manifest} is missing or unreadable; cannot "
                                       f"resume") from None
            if existing.get("campaign") != manifest.get("campaign"):
                raise ResultStoreError(f"{self.directory} holds a different campaign "
                                       f"(spec or seed differ); cannot resume into it")
            self._recover()
        else:
            write_atomic(self.manifest, json.dumps(manifest, indent=2, sort_keys=True))
            self.results.touch()
        self._handle = open(self.results, "a")
        return self

    def _recover(self):
        """Read the ids done; cut a torn last line left by an interrupted write."""
        if not self.results.exists():
            self.results.touch()
            return
        good = 0
        with open(self.results, "rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                try:
                    record = json.loads(line)
                except ValueError:
                    break
                self._done.add(record["id"])
                good += len(line)
        if good != self.results.stat().st_size:
            with open(self.results, "rb+") as handle:
                handle.truncate(good)

    def append(self, records):
        """Append records (dicts with an ``id``), then flush them to disk."""
        lines = []
        for record in records:
            if record["id"] in self._done:
                raise ResultStoreError(f"injection {record['id']} is already recorded")
            self._done.add(record["id"])
            lines.append(json.dumps(record, sort_keys=True) + "\n")
        self._handle.write("".join(lines))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def records(self):
        """Read back every recorded injection."""
        with open(self.results) as handle:
            return [json.loads(line) for line in handle if line.endswith("\n")]
