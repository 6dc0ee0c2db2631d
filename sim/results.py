"""Campaign results: an append-only JSON-lines file and a manifest, safe to resume.

``DIR/results.jsonl`` holds one JSON object per injection, each with a unique ``id``;
lines are only ever appended, flushed and synced in batches. ``DIR/manifest.json`` (spec,
seed, versions, sites) is written atomically. After a crash or a kill, reopening with
``resume=True`` reads the file as every reader does
(:func:`ftvoter.analysis.files.read_results`): a torn last line (a write cut short) is
cut off, every good record is kept, each id once, and a line that is not a result record
(or repeats an id) is moved, with its line number, to ``DIR/quarantine.jsonl`` (never
deleted); the manifest must match the one on disk, so a resumed run cannot mix two
campaigns.
"""

import json
import os
import shutil
from pathlib import Path

from ftvoter.analysis.files import OutputError, read_results, write_atomic

__all__ = ["ResultStore", "ResultStoreError", "CAMPAIGN_FILES", "discard"]

#: The files and folders a campaign writes into its folder (and ``--fresh`` removes).
CAMPAIGN_FILES = ("results.jsonl", "manifest.json", "quarantine.jsonl", "shards", "logs")


class ResultStoreError(RuntimeError):
    """The result folder cannot be used as asked; the message is one line."""


def discard(directory):
    """Delete a campaign's own files from ``directory``, nothing else.

    Only a folder that holds a campaign (its ``manifest.json``) is touched: its results,
    manifest and quarantine, the shard folders (``shards/shard<k>-<n>``) and the logs the
    engine wrote (``logs/injection<id>.log``, ``logs/shard<k>-startup.log``); a ``shards``
    or ``logs`` folder left with other files in it stays. A folder with results but no
    manifest was not written by ``ftvoter campaign``: :class:`ResultStoreError`.
    """
    directory = Path(directory)
    if not (directory / "manifest.json").is_file():
        if (directory / "results.jsonl").exists():
            raise ResultStoreError(f"{directory} holds results.jsonl but no manifest.json: "
                                   f"not a campaign folder; nothing removed")
        return
    for name in ("results.jsonl", "quarantine.jsonl", "manifest.json"):
        (directory / name).unlink(missing_ok=True)
    for folder, pattern in (("shards", "shard*-*"), ("logs", "injection*.log"),
                            ("logs", "shard*-startup.log")):
        for path in (directory / folder).glob(pattern):
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        try:
            (directory / folder).rmdir()
        except OSError:     # absent, or holds files that are not ours
            pass


class ResultStore:
    def __init__(self, directory):
        self.directory = Path(directory)
        self.results = self.directory / "results.jsonl"
        self.manifest = self.directory / "manifest.json"
        self.quarantine = self.directory / "quarantine.jsonl"
        self._done = set()
        self._handle = None
        self.repaired = ""      # what opening for a resume set aside (one line, or "")

    @property
    def done(self):
        """Ids already recorded."""
        return frozenset(self._done)

    def open(self, manifest, *, resume=False):
        """Start (or, with ``resume``, continue) a campaign described by ``manifest``."""
        if self.directory.exists() and not self.directory.is_dir():
            raise ResultStoreError(f"cannot use {self.directory} as the result folder: it "
                                   f"is a file")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ResultStoreError(f"cannot create the result folder {self.directory}: "
                                   f"{error.strerror}") from None
        if self.results.exists() or self.manifest.exists():
            if not resume:
                raise ResultStoreError(f"{self.directory} already holds a campaign; use "
                                       f"--resume to continue it, or another folder")
            try:
                existing = json.loads(self.manifest.read_text())
            except (OSError, ValueError):
                raise ResultStoreError(f"{self.manifest} is missing or unreadable; cannot "
                                       f"resume") from None
            if not isinstance(existing, dict) or \
                    existing.get("campaign") != manifest.get("campaign"):
                raise ResultStoreError(f"{self.directory} holds a different campaign "
                                       f"(spec or seed differ); cannot resume into it")
            self._recover(manifest.get("campaign", {}).get("injections"))
        else:
            write_atomic(self.manifest, json.dumps(manifest, indent=2, sort_keys=True))
            write_atomic(self.results, b"")
        try:
            self._handle = open(self.results, "ab")
        except OSError as error:
            raise OutputError(self.results, error) from None
        return self

    def _recover(self, planned):
        """Read the ids done; set aside what is not a good, new, complete record."""
        found = read_results(self.results, planned=planned)
        self._done = {record["id"] for record in found.records}
        if found.clean:
            return
        self.repaired = found.problems()
        if found.bad or found.repeated:
            # Every line set aside is kept, with where it was, before the rewrite.
            lines = [json.dumps({"line": number, "reason": reason,
                                 "text": raw.decode("utf-8", "replace")}) + "\n"
                     for number, reason, raw in sorted(found.bad + found.repeated)]
            try:
                with open(self.quarantine, "a") as handle:
                    handle.writelines(lines)
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as error:
                raise OutputError(self.quarantine, error) from None
            self.repaired += f"; set aside in {self.quarantine}"
        write_atomic(self.results, b"".join(found.good_lines))

    def update_manifest(self, **entries):
        """Set top-level ``entries`` of the manifest (never its ``campaign``, which a
        resume checks), rewriting it atomically."""
        if "campaign" in entries:
            raise ValueError("The manifest's campaign is written once, by open()")
        try:
            manifest = json.loads(self.manifest.read_text())
        except (OSError, ValueError):
            raise ResultStoreError(f"{self.manifest} is missing or unreadable") from None
        if all(manifest.get(key) == value for key, value in entries.items()):
            return
        manifest.update(entries)
        write_atomic(self.manifest, json.dumps(manifest, indent=2, sort_keys=True))

    def append(self, records):
        """Append records (dicts with an ``id``), then flush them to disk."""
        lines = []
        for record in records:
            if record["id"] in self._done:
                raise ResultStoreError(f"injection {record['id']} is already recorded")
            self._done.add(record["id"])
            lines.append(json.dumps(record, sort_keys=True) + "\n")
        try:
            self._handle.write("".join(lines).encode())
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as error:
            raise OutputError(self.results, error) from None

    def close(self):
        if self._handle is not None:
            try:
                self._handle.close()
            except OSError:
                pass
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def records(self):
        """Read back every recorded injection (each id once; bad lines left out)."""
        return read_results(self.results).records
