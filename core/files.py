"""Output files that appear only when complete: written beside their target under a temporary
name (``STEM.XXXXXXXX.part.SUFFIX``) and renamed into place, so an interrupted or failed write
never leaves a half-written file under the requested name.
"""
from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path


def partial_path(out: Path) -> Path:
    """A new, empty temporary file beside ``out`` (its folder is created) to write ``out`` into."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.stem + ".", suffix=".part" + out.suffix, dir=out.parent)
    os.close(fd)
    return Path(tmp)


def partial_files(out: Path) -> list[Path]:
    """The temporary files of ``out`` that exist now (e.g. left by a process that was killed)."""
    out = Path(out)
    return list(out.parent.glob(f"{glob.escape(out.stem)}.*.part{glob.escape(out.suffix)}"))


def publish(tmp: Path, out: Path) -> None:
    """Rename a finished temporary file to ``out``, readable like any new file (mkstemp makes 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, out)


def write_atomically(out: Path, data: bytes) -> None:
    """``data`` into ``out`` through a temporary file and a rename."""
    tmp = partial_path(out)
    try:
        tmp.write_bytes(data)
        publish(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
