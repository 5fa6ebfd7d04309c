"""Pack the demo corpus's separation training data small enough to send to a remote GPU machine.

gpu.yaml's runs went to a lent machine whose whole transfer was capped at 64 MiB, so its data was packed:
  - train speech: every one of the 161 train speakers, at most 20 min each (utterances in a seeded random
    order; 7 speakers held 4.9 of the 6.3 hours, so 3.8 h remain), transcoded to Ogg Opus at 16 kbit/s;
  - train noise: all of it, Opus at 12 kbit/s;
  - room impulse responses: 100 of the 240 train RIRs (seeded), 16-bit FLAC;
  - validation: the first 10 mixtures of fixed/sep2_dev, cut to 4 s, 16-bit WAV.
Manifests hold paths as @PACK@/...; the remote side replaces @PACK@ with the pack's absolute folder.
Needs ffmpeg with libopus. Usage (from the repository root):
    python recipes/pit/transfer_pack.py OUT_DIR        # corpus: $SEPKIT_DATA/demo
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from sepkit.data.manifest import read_manifest, select, write_manifest

SPEAKER_CAP_S = 20 * 60
RIRS = 100
VALID_ITEMS, VALID_SECONDS = 10, 4


def encode(src: Path, dst: Path, bitrate: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(src)]
    subprocess.run([*cmd, "-c:a", "libopus", "-b:a", bitrate, "-application", "audio", str(dst)], check=True)


def pack_rows(rows: list[dict], corpus: Path, pack: Path, name: str, bitrate: str) -> None:
    def one(row: dict) -> dict:
        dst = pack / "audio" / Path(row["path"]).relative_to(corpus / "audio").with_suffix(".opus")
        encode(Path(row["path"]), dst, bitrate)
        return {**row, "path": "@PACK@/" + str(dst.relative_to(pack))}

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        packed = list(pool.map(one, sorted(rows, key=lambda r: r["path"])))
    write_manifest(packed, pack / "manifests" / f"{name}.jsonl")


def train_rows(corpus: Path, name: str) -> list[dict]:
    return select(read_manifest(corpus / "manifests" / f"{name}.jsonl", check=False), split="train")


def capped_speech(rows: list[dict]) -> list[dict]:
    """Each speaker's utterances in a seeded random order, up to SPEAKER_CAP_S seconds."""
    by_speaker = collections.defaultdict(list)
    for row in rows:
        by_speaker[row["speaker"]].append(row)
    rng, kept = np.random.default_rng(0), []
    for speaker in sorted(by_speaker):
        utterances, total = by_speaker[speaker], 0.0
        for i in rng.permutation(len(utterances)):
            if total >= SPEAKER_CAP_S:
                break
            kept.append(utterances[i])
            total += utterances[i]["duration"]
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    corpus = Path(os.environ["SEPKIT_DATA"]) / "demo"
    pack = args.out
    pack_rows(capped_speech(train_rows(corpus, "speech")), corpus, pack, "speech", "16k")
    pack_rows(train_rows(corpus, "noise"), corpus, pack, "noise", "12k")
    rirs = train_rows(corpus, "rir")
    packed = []
    for i in sorted(np.random.default_rng(0).choice(len(rirs), RIRS, replace=False)):
        src = Path(rirs[i]["path"])
        dst = pack / "audio" / src.relative_to(corpus / "audio").with_suffix(".flac")
        dst.parent.mkdir(parents=True, exist_ok=True)
        wav, rate = sf.read(src, dtype="float32")
        sf.write(dst, wav / max(1.0, float(np.abs(wav).max())), rate, subtype="PCM_16")
        packed.append({**rirs[i], "path": "@PACK@/" + str(dst.relative_to(pack))})
    write_manifest(packed, pack / "manifests" / "rir.jsonl")
    for sub in ("mix", "s1", "s2"):
        (pack / "fixed" / "sep2_dev" / sub).mkdir(parents=True, exist_ok=True)
        for k in range(VALID_ITEMS):
            wav, rate = sf.read(corpus / "fixed" / "sep2_dev" / sub / f"{k:06d}.wav", dtype="float32")
            sf.write(
                pack / "fixed" / "sep2_dev" / sub / f"{k:06d}.wav", wav[: VALID_SECONDS * rate], rate, subtype="PCM_16"
            )
    print(pack)


if __name__ == "__main__":
    main()
