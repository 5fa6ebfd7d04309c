"""Temporary files and folders beside a target, renamed into place: how every sepkit write stays atomic.

``tempfile.mkstemp`` makes files readable by their owner only; a finished output should carry the
permissions any new file gets under the user's umask, so the temporary file is given those.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sepkit.errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_file_beside(dst: str | os.PathLike[str], suffix: str = ".part") -> tuple[int, Path]:
    """Open a new temporary file in ``dst``'s folder: ``(fd, path)``, with umask permissions (0666 & ~umask)."""
    dst = Path(dst)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=suffix, dir=dst.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError:  # a filesystem without permissions (e.g. some mounts): keep mkstemp's
        pass
    return fd, Path(tmp)


def give_umask_mode(path: str | os.PathLike[str]) -> None:
    """Give ``path`` the permissions of a new file (0666 & ~umask): for files a library wrote in our temporary's
    place with its own (safetensors writes weights owner-only)."""
    try:
        os.chmod(path, 0o666 & ~_umask())
    except OSError:  # as above
        pass


@contextmanager
def staged_folder(dst: str | os.PathLike[str]) -> Iterator[Path]:
    """A new folder beside ``dst`` to fill: it takes ``dst``'s place when the block ends without error (replacing
    a folder already there only then) and is removed otherwise; ``OutputError`` when it cannot be made."""
    dst = Path(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent))
    except OSError as exc:
        raise OutputError(f"{dst}: cannot write here ({exc.strerror or exc})") from exc
    try:
        os.chmod(stage, 0o777 & ~_umask())
        yield stage
        old = stage.with_suffix(".old")
        if dst.exists():
            os.rename(dst, old)
        try:
            os.rename(stage, dst)
        except OSError:
            if old.exists():
                os.rename(old, dst)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


__all__ = ["give_umask_mode", "staged_folder", "temp_file_beside"]
