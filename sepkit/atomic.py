"""Temporary files beside a target, renamed into place: how every sepkit write stays atomic.

``tempfile.mkstemp`` makes files readable by their owner only; a finished output should carry the
permissions any new file gets under the user's umask, so the temporary file is given those.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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


__all__ = ["give_umask_mode", "temp_file_beside"]
