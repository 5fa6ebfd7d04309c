"""No tracked file names a machine's absolute path: corpora are found through $SEPKIT_DATA (${data} in recipes)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Folders that exist on one machine only (home directories, scratch and data mounts). System paths
# such as /usr/share or /proc are the same everywhere and allowed. Built from words so that this
# file does not match itself.
MACHINE_DIRS = ("work", "root", "home", "Users", "tmp", "mnt", "media", "scratch", "data", "srv", "opt", "var/tmp")
PATTERN = re.compile(
    r"(?<![\w.~}$/])/(?:" + "|".join(re.escape(d) for d in MACHINE_DIRS) + r")/"
    r"|\b[A-Za-z]:\\(?:Users|Documents and Settings)\\"
)


def tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    return [REPO / name.decode() for name in names if name]


def test_tracked_files_name_no_machine_path() -> None:
    hits = []
    for path in tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue  # binary files (weights, audio), or deleted in the work tree
        for number, line in enumerate(text.splitlines(), 1):
            if PATTERN.search(line):
                hits.append(f"{path.relative_to(REPO)}:{number}: {line.strip()[:120]}")
    assert not hits, "absolute machine paths (use $SEPKIT_DATA or ${data}):\n" + "\n".join(hits)


def test_the_pattern_catches_machine_paths_and_spares_system_ones() -> None:
    def path(*parts: str) -> str:  # joined here, so that this file holds no such path
        return "/" + "/".join(parts)

    for bad in (
        "corpus: " + path("work", "data", "demo"),
        "--mix " + path("root", "x"),
        "C:" + "\\Users\\me",
        "'" + path("tmp", "unused") + "'",
        "path=" + path("data", "LibriMix"),
    ):
        assert PATTERN.search(bad), bad
    for good in (
        "corpus: ${data}/demo",
        "$SEPKIT_DATA/demo/fixed",
        "usr/share/games/torcs/data/sound",
        "/usr/share/doc",
        "/proc/cpuinfo",
        "runs/enhance/export",
        "~/.cache/sepkit",
        "sepkit/data/paths.py",
    ):
        assert not PATTERN.search(good), good
