"""CPU cost of the training corruption's codecs, in process (PyAV) and through the ffmpeg program, against mu-law.

``corrupt.codecs`` codes an item with PyAV when it imports, else with two ffmpeg processes (encode, decode);
this measures what a data worker pays per 3 s item either way, its own CPU time plus its children's,
beside the in-process mu-law round trip:
    python benchmarks/codec_cost.py
"""

from __future__ import annotations

import argparse
import functools
import resource
import time
from typing import Callable

import torch

from sepkit.audio.codec import CODECS, available_backends, codec_round_trip
from sepkit.data.corruption import MU_LAW, coded


def cpu_seconds() -> float:
    """This process's CPU time plus that of its finished children (the ffmpeg processes)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def per_item_ms(run: Callable[[], object], repeats: int) -> float:
    """CPU milliseconds (with children's) per call of ``run``, after one warm-up call."""
    run()  # warm-up
    start = cpu_seconds()
    for _ in range(repeats):
        run()
    return (cpu_seconds() - start) / repeats * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    backends = available_backends()
    if not backends:
        raise SystemExit("neither PyAV nor the ffmpeg program is here: only mu-law would run")
    x = 0.1 * torch.randn(int(args.seconds * 16000), generator=torch.Generator().manual_seed(0))
    base = per_item_ms(lambda: coded(x, 16000, MU_LAW), args.repeats)
    print(f"| codec | backend | CPU ms per {args.seconds:g} s item | x mu-law |\n|---|---|---:|---:|")
    print(f"| {MU_LAW} | numpy | {base:.1f} | 1.0x |")
    for name in sorted(CODECS):
        for backend in backends:
            ms = per_item_ms(functools.partial(codec_round_trip, x, 16000, name, backend), args.repeats)
            print(f"| {name} | {backend} | {ms:.1f} | {ms / base:.0f}x |")


if __name__ == "__main__":
    main()
