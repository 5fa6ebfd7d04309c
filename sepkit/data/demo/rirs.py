"""Simulated room impulse responses (pyroomacoustics image source method), one random room each.

Rooms are 3-10 x 3-8 x 2.5-4 m with a target RT60 drawn in 0.2-0.9 s (wall absorption and
reflection order from Sabine's formula), source and microphone at least 0.5 m from the walls
and 0.5-3 m apart. Each RIR is a pure function of ``(seed, split, index)``, so splits hold
different rooms and a rerun rebuilds the same ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sepkit.audio.io import write_audio

SPLIT_CODES = {"train": 0, "dev": 1, "test": 2}


@dataclass(frozen=True)
class RirJob:
    """One simulated RIR written to ``path``."""

    path: str
    split: str
    index: int
    seed: int = 0
    sample_rate: int = 16000


def room_parameters(seed: int, split: str, index: int) -> dict:
    """Room size, target RT60 and source/microphone positions for one RIR."""
    rng = np.random.default_rng([seed, SPLIT_CODES[split], index])
    dims = rng.uniform([3.0, 3.0, 2.5], [10.0, 8.0, 4.0])
    rt60 = float(rng.uniform(0.2, 0.9))
    lo, hi = np.array([0.5, 0.5, 1.0]), dims - np.array([0.5, 0.5, 0.5])
    mic = rng.uniform(lo, hi)
    for _ in range(1000):  # a source 0.5-3 m from the microphone, inside the room
        distance = rng.uniform(0.5, 3.0)
        direction = rng.normal(size=3)
        src = mic + distance * direction / np.linalg.norm(direction)
        if np.all(src >= lo) and np.all(src <= hi):
            break
    return {
        "room_dims": dims.round(3).tolist(),
        "rt60_target": round(rt60, 3),
        "mic": mic.round(3).tolist(),
        "source_pos": src.round(3).tolist(),
        "distance": round(float(np.linalg.norm(src - mic)), 3),
    }


def simulate(job: RirJob) -> dict:
    """Simulate, peak-normalise and write one RIR; returns its manifest fields."""
    import pyroomacoustics as pra

    params = room_parameters(job.seed, job.split, job.index)
    absorption, max_order = pra.inverse_sabine(params["rt60_target"], params["room_dims"])
    room = pra.ShoeBox(params["room_dims"], fs=job.sample_rate, materials=pra.Material(absorption), max_order=max_order)
    room.add_source(params["source_pos"])
    room.add_microphone(params["mic"])
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], dtype=np.float64)
    rt60 = float(pra.experimental.measure_rt60(rir, fs=job.sample_rate, decay_db=30))
    rir = rir[: int(min(rir.size, math.ceil(1.2 * max(rt60, params["rt60_target"]) * job.sample_rate)))]
    path = write_audio(Path(job.path), (rir / np.abs(rir).max()).astype(np.float32), job.sample_rate, "FLOAT")
    return {
        "path": str(path),
        "duration": round(rir.size / job.sample_rate, 4),
        "sample_rate": job.sample_rate,
        "rt60": round(rt60, 3),
        **params,
    }
