"""One person's recordings in a folder: manifest entries split by recording, their amount and native rate.

``sepkit personalize`` trains on whatever audio a user has: every readable file under the folder
(sub-folders included) becomes an entry of kind ``speech``. A share of the recordings is held
out as ``dev`` for validation; pieces cut from one recording (``talk_1.wav``, ``talk_2.wav``)
stay together, so validation never hears a recording that training heard.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sepkit.audio.io import AUDIO_EXTENSIONS
from sepkit.data.manifest import Entry, file_entry
from sepkit.data.prepare import _recording
from sepkit.data.splits import split_groups
from sepkit.errors import AudioError


def audio_files(folder: Path) -> list[Path]:
    """Audio files under ``folder`` (recursive, sorted), recognised by extension; hidden folders are skipped."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in AUDIO_EXTENSIONS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def scan_recordings(
    folder: Path, dev_fraction: float = 0.1, seed: int = 0, speaker: str | None = "user", kind: str = "speech"
) -> tuple[list[Entry], list[str]]:
    """Entries of the readable files under ``folder``, split train/dev by recording; one line per unreadable file."""
    files = audio_files(folder)

    def one(path: Path) -> Entry | str:
        try:
            return file_entry(path, split="train", kind=kind, speaker=speaker)
        except AudioError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, files))
    entries = [r for r in results if not isinstance(r, str)]
    problems = [r for r in results if isinstance(r, str)]
    keys = {e["path"]: _recording(Path(e["path"])) for e in entries}
    splits = split_groups(keys.values(), dev_fraction, 0.0, seed) if entries else {}
    for e in entries:
        e["split"] = splits[keys[e["path"]]]
    return entries, problems


def total_seconds(entries: list[Entry], split: str | None = None) -> float:
    """Seconds of audio in ``entries`` (of one split, or all)."""
    return float(sum(e["duration"] for e in entries if split is None or e["split"] == split))


def native_rate(entries: list[Entry]) -> int:
    """The sample rate holding the most audio (ties: the higher rate)."""
    seconds: Counter[int] = Counter()
    for e in entries:
        seconds[int(e["sample_rate"])] += float(e["duration"])
    return max(seconds, key=lambda rate: (seconds[rate], rate))
