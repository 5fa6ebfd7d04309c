"""Debian packages into a cache: ``apt-get download``, then extract only the folders the catalogue uses.

Each step leaves a finished result or nothing (downloads land as ``.deb`` only when complete,
extractions are renamed into place), so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path, PurePosixPath

from sepkit.atomic import staged_folder
from sepkit.data.demo.catalog import Source
from sepkit.errors import ConfigError

TOOLS = {"apt-get": "apt", "dpkg-deb": "dpkg", "tar": "tar", "ffmpeg": "ffmpeg", "espeak-ng": "espeak-ng"}


def ensure_tools(names: list[str], install: bool = True, log=print) -> None:
    """Check that each command exists; install missing ones with apt-get when root, else say how."""
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return
    debs = [TOOLS.get(n, n) for n in missing]
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing missing tools with apt-get: {' '.join(debs)}")
        _run(["apt-get", "update", "-q"], "apt-get update")
        _run(["apt-get", "install", "-y", "-q", *debs], f"apt-get install {' '.join(debs)}")
        missing = [n for n in names if shutil.which(n) is None]
        if not missing:
            return
    raise ConfigError(
        f"needed tool(s) not found: {', '.join(missing)}; install them first "
        f"(as root: apt-get install -y {' '.join(debs)})"
    )


def download(package: str, debs: Path, log=print) -> Path:
    """The package's ``.deb`` in ``debs`` (downloaded with ``apt-get download`` unless already there)."""
    found = sorted(debs.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    debs.mkdir(parents=True, exist_ok=True)
    log(f"downloading {package}")
    result = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
    if result.returncode != 0:  # stale package lists: refresh once and retry
        _run(["apt-get", "update", "-q"], "apt-get update")
        result = subprocess.run(["apt-get", "download", package], cwd=debs, capture_output=True, text=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if result.returncode != 0 or not found:
        raise ConfigError(f"{package}: apt-get download failed ({_last_line(result.stderr)})")
    return found[-1]


def extract(deb: Path, package: str, sources: list[Source], extracted: Path) -> Path:
    """Extract the catalogue's folders (and the copyright file) of ``deb`` into ``extracted/<package>``."""
    dest = extracted / package
    if dest.is_dir():
        return dest
    wanted = sorted({f"./{s.archive or s.prefix}" for s in sources} | {f"./usr/share/doc/{package}/copyright"})
    members = [m for m in wanted if not any(m.startswith(other + "/") for other in wanted)]  # tar wants no nesting
    with staged_folder(dest) as tmp:
        tar = subprocess.Popen(["tar", "-x", "-C", str(tmp), *members], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        dpkg = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=tar.stdin, stderr=subprocess.PIPE)
        assert tar.stdin is not None
        tar.stdin.close()
        tar_err = tar.stderr.read().decode() if tar.stderr else ""
        if tar.wait() != 0 or dpkg.returncode != 0:
            raise ConfigError(f"{deb}: extraction failed ({_last_line(tar_err or dpkg.stderr.decode())})")
        for s in sources:  # 0ad keeps its audio in a zip inside the package
            if s.archive:
                with zipfile.ZipFile(tmp / s.archive) as z:
                    z.extractall(tmp / "zip", [m for m in z.namelist() if m.startswith(s.prefix + "/")])
        for s in sources:
            if s.archive:
                (tmp / s.archive).unlink(missing_ok=True)
    return dest


def source_root(extracted_pkg: Path, source: Source) -> Path:
    """Folder that holds the source's files inside an extracted package."""
    return extracted_pkg / ("zip" if source.archive else "") / PurePosixPath(source.prefix)


def list_files(extracted_pkg: Path, source: Source) -> list[str]:
    """Paths (relative to the source's folder, sorted) of the files the source selects."""
    root = source_root(extracted_pkg, source)
    if not root.is_dir():
        raise ConfigError(f"{root}: folder missing from package {source.package}; the catalogue may be out of date")
    rels = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return sorted(r for r in rels if source.selects(r))


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ConfigError(f"{what} failed: {_last_line(result.stderr)}")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "no message"
