"""Temporary files and folders beside a target, renamed into place: how every sepkit write stays atomic.

Two helpers, one for each kind of target: ``AtomicFile`` for a file, ``staged_folder`` for a folder.
Either way a reader sees the old target or the complete new one, never a partial one, and a write
that fails leaves nothing behind. ``AtomicOutput`` is the commit-or-discard protocol an output object
shares (``AtomicFile``, ``audio.io.AtomicAudioWriter``).

``tempfile.mkstemp`` makes files readable by their owner only; a finished output should carry the
permissions any new file gets under the user's umask, so the temporary file is given those (again
when it is committed, for libraries that write a file of their own in its place).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Iterator, Self

from sepkit.errors import OutputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _give_umask_mode(path: str | os.PathLike[str]) -> None:
    """Give ``path`` the permissions of a new file (0666 & ~umask)."""
    try:
        os.chmod(path, 0o666 & ~_umask())
    except OSError:  # a filesystem without permissions (e.g. some mounts): keep what it has
        pass


class AtomicOutput:
    """An output written aside until ``commit()`` puts it in its target's place; ``discard()`` throws it away.

    As a context manager it commits when the block ends without error and discards otherwise.
    """

    def commit(self) -> Path:
        """Put the output in its target's place; returns the target."""
        raise NotImplementedError

    def discard(self) -> None:
        """Throw the output away (nothing happens to the target)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


class AtomicFile(AtomicOutput):
    """A new temporary file beside ``dst`` (``.<name>.XXXX<suffix>``, empty) to write by its ``path``.

    ``commit()`` renames it into ``dst``'s place (replacing a file already there only then);
    ``discard()`` removes it. As a context manager it commits when the block ends without error
    and discards otherwise::

        with AtomicFile(dst) as out, open(out.path, "w") as f:
            f.write(text)

    The temporary file is in ``dst``'s folder (which must exist), so the rename stays on one
    filesystem and is atomic there.
    """

    def __init__(self, dst: str | os.PathLike[str], suffix: str = ".part"):
        self.dst = Path(dst)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.dst.name}.", suffix=suffix, dir=self.dst.parent)
        os.close(fd)
        self.path = Path(tmp)
        _give_umask_mode(self.path)

    def commit(self) -> Path:
        """Put the written file in ``dst``'s place (it is removed if that fails); returns ``dst``."""
        try:
            _give_umask_mode(self.path)  # a library may have written its own file here (safetensors: owner-only)
            os.replace(self.path, self.dst)
        except BaseException:
            self.discard()
            raise
        return self.dst

    def discard(self) -> None:
        """Remove the temporary file (nothing happens to ``dst``)."""
        self.path.unlink(missing_ok=True)


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


__all__ = ["AtomicFile", "AtomicOutput", "staged_folder"]
