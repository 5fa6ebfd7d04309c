"""A fixed training set whose targets are a teacher enhancer's outputs (knowledge distillation).

Items are drawn from a training config's ``data.train`` (the widened on-the-fly mixtures) and the
teacher, one of ``sepkit evaluate``'s baselines (e.g. ``deepfilternet3``), enhances each mixture.
The folder holds ``mix/`` (the input), ``s1/`` (the training target) and ``clean/`` (the speech that
was mixed, kept to measure how far the teacher is from it), plus ``teacher.jsonl`` (per item: both
SI-SDRs against the speech and which target it got).

- The teacher hears each mixture at -25 dBFS and its output is scaled back to the mixture's level:
  DeepFilterNet3 mutes inputs near -45 dBFS, and the training draws levels down to there.
- It first hears ``--preroll`` seconds of the mixture mirrored in time, so its start-up frames fall
  before the item (a recurrent teacher settles over its first frames, and the demo corpus holds many
  sub-second shouts at the start of an item); that part of its output is dropped.
- Where it fails (its output more than 3 dB further from the speech than the mixture is: it took
  game voices for noise, or muted a coloured or clipped input) the item's target is the speech.

Items are split over ``--jobs`` processes by index, so the same config, seed and count give the same
set whatever the job count.

    OMP_NUM_THREADS=1 python recipes/enhance/teacher_set.py recipes/enhance/wide.yaml OUT \
        --teacher deepfilternet3 --items 3200 --seconds 3 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

from sepkit.audio.io import write_audio
from sepkit.data.mixing import PEAK, rms
from sepkit.evaluation.baselines import baseline_enhancer
from sepkit.metrics.sisdr import si_sdr
from sepkit.train.config import load_config
from sepkit.train.datasets import build_dataset


FALLBACK_MARGIN_DB = 3.0  # an item the teacher leaves this far below its input (against the speech) keeps the speech
TEACHER_LEVEL_DBFS = -25.0  # teachers such as DeepFilterNet3 mute inputs near -45 dBFS; they hear this level


def _teacher_gain(mix: torch.Tensor) -> float:
    """The gain that brings ``mix`` to ``TEACHER_LEVEL_DBFS`` RMS, lowered so that no peak passes the mixer's ``PEAK``."""
    level = rms(mix)
    if level == 0.0:
        return 1.0
    return min(10 ** (TEACHER_LEVEL_DBFS / 20) / level, PEAK / float(mix.abs().max()))


def _write_items(
    config: str, overrides: list[str], out: str, teacher: str, indices: list[int], preroll: float
) -> list[dict]:
    """Draw items ``indices`` of the config's training set, run the teacher, write the three folders; one row each."""
    cfg = load_config(config, overrides)
    rate = int(cfg["sample_rate"])
    dataset = build_dataset(cfg["data"]["train"], "data.train", rate, int(cfg.get("seed") or 0))
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(0)
    enhance = baseline_enhancer(teacher)
    pre = int(round(preroll * rate))
    rows = []
    for index in indices:
        item = dataset[index]
        gain = _teacher_gain(item["mixture"])
        mix = item["mixture"].numpy().astype(np.float32)
        clean = item["sources"][0].numpy().astype(np.float32)
        padded = np.concatenate([mix[1 : pre + 1][::-1], mix])  # the teacher settles on a mirror image first
        target = (enhance(padded[None] * gain, rate)[0, pre:] / gain).astype(np.float32)
        teacher_db = float(si_sdr(target, clean)) if np.any(clean) else math.nan
        input_db = float(si_sdr(mix, clean)) if np.any(clean) else math.nan
        failed = teacher_db < input_db - FALLBACK_MARGIN_DB  # NaN compares False: a silent item keeps the teacher's
        uid = f"{index:06d}"
        for folder, audio in (("mix", mix), ("s1", clean if failed else target), ("clean", clean)):
            write_audio(Path(out) / folder / f"{uid}.wav", audio, rate, "FLOAT")
        rows.append(
            {
                "id": uid,
                "snr_db": float(item["snr_db"]),
                "teacher_si_sdr": teacher_db,
                "input_si_sdr": input_db,
                "target": "clean" if failed else "teacher",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Write the set and print the teacher's mean SI-SDR gain over the mixtures against the speech mixed in."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="training config whose data.train draws the mixtures")
    parser.add_argument("out", help="folder to write (must not exist)")
    parser.add_argument("--teacher", default="deepfilternet3", help="a sepkit evaluate baseline name")
    parser.add_argument("--items", type=int, default=2400)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each drawn item")
    parser.add_argument(
        "--preroll", type=float, default=1.0, help="seconds of mirrored mixture the teacher hears first"
    )
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        print(f"error: {out} exists; choose a new folder", file=sys.stderr)
        return 2
    if not 0 <= args.preroll < args.seconds:
        print("error: --preroll must be at least 0 and below --seconds", file=sys.stderr)
        return 2
    overrides = [f"data.train.segment_seconds={args.seconds}", f"data.train.length={args.items}", *args.set]
    start = time.time()
    chunks = [list(range(j, args.items, args.jobs)) for j in range(args.jobs)]
    with ProcessPoolExecutor(args.jobs) as pool:
        parts = pool.map(
            _write_items, *zip(*[(args.config, overrides, str(out), args.teacher, c, args.preroll) for c in chunks])
        )
        rows = sorted((r for part in parts for r in part), key=lambda r: r["id"])
    with open(out / "teacher.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    gain = np.array([r["teacher_si_sdr"] - r["input_si_sdr"] for r in rows])
    gain = gain[np.isfinite(gain)]
    fallback = sum(r["target"] == "clean" for r in rows)
    print(
        f"{len(rows)} items in {time.time() - start:.0f} s; teacher {args.teacher} SI-SDRi against the speech mixed in: "
        f"mean {gain.mean():+.2f} dB, median {np.median(gain):+.2f} dB; {fallback} items fell back to the speech"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
