"""Screen stage-1 (CAE) variants in one process: train each briefly on clean speech, score CAE(clean) as path_scores.py.

A cheap stand-in for a stage-1 run of ``sepkit train`` when comparing network options: no data
loader, validation or checkpoints. The clean speech is the demo corpus's train split (the first
``--files`` files of a seeded shuffle, all speakers, joined end to end) cut into random 2 s windows,
batch 20; the loss is stage cae's, ``wmse·‖D(E(x)+ε) − x‖² + kl·mean(E(x)²)`` (``wmse`` 1), optionally plus
``-wsi·SI-SDR`` of the resynthesis (with the clean phase); Adam with the recipe's betas and weight
decay at a constant learning rate. Every ``--every`` steps, the mean SI-SDR (dB) of CAE(clean)
against the clean speech on the first 40 items of ``fixed/enh_dev``, as
``path_scores.py`` scores ``cae(clean)``. Each variant is a JSON object: ``name``, optional
``steps``, ``lr``, ``noise`` (latent noise std), ``kl``, ``wmse``, ``wsi``, ``linear`` (true: a one-layer
linear autoencoder, 1x1 convolutions 257 -> 64 -> 257, instead of the CAE) and any ``cae_mae``
model argument, over ``cpu_small.yaml``'s network with ``time_norm: none`` and ``decoder_output: softplus``:

    OMP_NUM_THREADS=1 python recipes/cae_mae/screen_cae.py \
        '[{"name": "ref"}, {"name": "shallow", "cae_dims": [64], "depthwise_init": "identity", "lr": 2e-3}]'
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from sepkit.audio.io import read_audio
from sepkit.audio.resample import resample
from sepkit.data.manifest import read_manifest, select
from sepkit.data.paths import data_root
from sepkit.metrics import si_sdr
from sepkit.metrics.sisdr import si_sdr_torch
from sepkit.models import build_model
from sepkit.train.config import load_config

RECIPE = Path(__file__).with_name("cpu_small.yaml")
# cpu_small.yaml's network with the two stage-1 fixes every variant shares; the MAE is not trained here
SCREEN_ARGS = {"time_norm": "none", "decoder_output": "softplus", "mae_dims": [64]}


def load(path: str | Path, rate: int = 16000) -> torch.Tensor:
    audio, sr = read_audio(path)
    return resample(torch.as_tensor(audio.mean(0))[None], sr, rate)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", help="JSON list of variants (module doc)")
    parser.add_argument("--files", type=int, default=700, help="train-split speech files to draw windows from")
    parser.add_argument("--every", type=int, default=200, help="score every N steps")
    args = parser.parse_args()
    torch.set_num_threads(1)
    network = {**load_config(RECIPE)["model"]["args"], **SCREEN_ARGS}
    corpus = data_root() / "demo"
    records = select(read_manifest(corpus / "manifests/speech.jsonl"), split="train")
    random.Random(0).shuffle(records)
    stream = torch.cat([load(r["path"]) for r in records[: args.files]])
    dev = [load(p)[None] for p in sorted((corpus / "fixed/enh_dev/s1").glob("*.wav"))[:40]]
    print(f"{stream.shape[0] / 16000:.0f} s of clean speech", flush=True)

    def score(net: Any) -> float:
        net.eval()
        with torch.no_grad():
            values = [float(si_sdr(net.through(c, net.cae.encoder, net.cae.decoder), c).mean()) for c in dev]
        net.train()
        return float(np.mean(values))

    for variant in json.loads(args.variants):
        opts = dict(variant)
        name, steps, lr = opts.pop("name"), opts.pop("steps", 400), opts.pop("lr", 5e-4)
        noise, kl, linear = opts.pop("noise", 1.0), opts.pop("kl", 1e-3), opts.pop("linear", False)
        wmse, wsi = opts.pop("wmse", 1.0), opts.pop("wsi", 0.0)
        torch.manual_seed(0)
        windows = torch.Generator().manual_seed(1)
        net = build_model("cae_mae", **{**network, **opts})
        if linear:
            net.cae.encoder, net.cae.decoder = nn.Conv1d(257, 64, 1), nn.Conv1d(64, 257, 1)
        opt = torch.optim.Adam(net.cae.parameters(), lr=lr, betas=(0.5, 0.999), weight_decay=1e-4)
        start, trace = time.process_time(), []
        for step in range(1, steps + 1):
            at = torch.randint(0, stream.shape[0] - 32000, (20,), generator=windows)
            clean = torch.stack([stream[i : i + 32000] for i in at])
            spec = net.spectrum(clean)
            x = net.compress(spec)
            z = net.cae.encoder(x)
            y = net.cae.decoder(z + noise * torch.randn_like(z))
            loss = wmse * (y - x).square().mean() + kl * z.square().mean()
            if wsi:
                loss = loss - wsi * si_sdr_torch(net.resynthesize(y, spec, clean.shape[-1]), clean).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % args.every == 0:
                trace.append(f"{step}: {score(net):.2f}")
        print(
            f"{name}: CAE(clean) SI-SDR dB at step {', '.join(trace)} ({time.process_time() - start:.0f} CPU-s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
