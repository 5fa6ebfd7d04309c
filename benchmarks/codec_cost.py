"""CPU cost of the training corruption's ffmpeg codecs against mu-law, per 3 s item.

``corrupt.codecs`` runs two ffmpeg processes per coded item (encode, decode); this measures what a data
worker pays for one, its own CPU time plus its children's, beside the in-process mu-law round trip:
    python benchmarks/codec_cost.py
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from sepkit.audio.codec import CODECS, ffmpeg_program
from sepkit.data.corruption import MU_LAW, coded


def cpu_seconds() -> float:
    """This process's CPU time plus that of its finished children (the ffmpeg processes)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if ffmpeg_program() is None:
        raise SystemExit("the ffmpeg program is not on PATH: only mu-law would run")
    x = 0.1 * torch.randn(int(args.seconds * 16000), generator=torch.Generator().manual_seed(0))
    base = None
    print(f"| codec | CPU ms per {args.seconds:g} s item | x mu-law |\n|---|---:|---:|")
    for name in (MU_LAW, *sorted(CODECS)):
        coded(x, 16000, name)  # warm-up
        start = cpu_seconds()
        for _ in range(args.repeats):
            coded(x, 16000, name)
        ms = (cpu_seconds() - start) / args.repeats * 1000
        base = base or ms
        print(f"| {name} | {ms:.1f} | {ms / base:.1f}x |")


if __name__ == "__main__":
    main()
