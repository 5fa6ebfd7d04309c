"""Training-step cost of the CPU-sized CAE/MAE network beside the paper's network it stands in for.

One Adam step on a batch of 20 x 2 s at 16 kHz (the recipes' batch), CPU time after one warm-up
step, one thread, for each stage the recipes train: ``cycle`` (MAE with the cycle terms, the
costliest: MAE, CAE decoder and encoder, MAE decoder again), ``cae`` (stage 1), ``mae`` (the
no-cycle ablation's stage 2) and ``supervised`` (the enhancement path on negative SI-SDR, as
``cpu_small_supervised.yaml``). The paper's network is ``recipes/cae_mae/cpu.yaml``'s, the CPU
network ``cpu_small.yaml``'s; the other rows change one of its options. The loss terms are the
training module's own (``CaeMaeModule.terms``); data loading and validation are not counted.
    OMP_NUM_THREADS=1 python benchmarks/cae_mae_step_cost.py [--steps 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from sepkit.losses import pairwise_neg_si_sdr
from sepkit.train.cae_mae import CaeMaeModule
from sepkit.train.config import load_config

RECIPES = Path(__file__).resolve().parent.parent / "recipes" / "cae_mae"
CANDIDATES = {  # label: (recipe, overrides)
    "paper network, cpu.yaml (baseline)": ("cpu.yaml", []),
    "CPU network, cpu_small.yaml": ("cpu_small.yaml", []),
    "cpu_small, hop 128": ("cpu_small.yaml", ["model.args.hop=128"]),
    "cpu_small, full convolutions": ("cpu_small.yaml", ["model.args.separable=false"]),
    "cpu_small2.yaml (failed the gate)": ("cpu_small2.yaml", []),
    "recurrent (cpu_gru_supervised.yaml's)": (
        "cpu_small2.yaml",
        ["model.args.cae_dims=[256,128]", "model.args.mae_dims=[256,192,128]", "model.args.encoder_gru=256"],
    ),
}
STAGES = ("cycle", "cae", "mae", "supervised")
BATCH, SECONDS, RATE = 20, 2.0, 16000


def step_cost(module: CaeMaeModule, batch: dict[str, torch.Tensor], stage: str, steps: int) -> float:
    """CPU seconds of one optimiser step of ``stage``, averaged over ``steps`` after a warm-up step."""
    opts = module.config["optim"]
    opt = torch.optim.Adam(
        module.parameters(), float(opts["lr"]), betas=tuple(opts["betas"]), weight_decay=float(opts["weight_decay"])
    )
    for i in range(steps + 1):
        if i == 1:
            start = time.process_time()
        if stage == "supervised":
            loss = pairwise_neg_si_sdr(module.net(batch["mixture"]), batch["clean"][:, None]).mean()
        else:
            loss = module.weighted(module.terms(batch, stage))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.process_time() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per stage (after one warm-up)")
    steps = parser.parse_args().steps
    torch.set_num_threads(1)
    torch.manual_seed(0)
    n = int(SECONDS * RATE)
    batch = {
        "clean": torch.randn(BATCH, n) * 0.05,
        "mixture": torch.randn(BATCH, n) * 0.05,
        "noise_only": torch.arange(BATCH) % 10 < 3,
    }  # 30 % noise-only clips, as the recipes
    print(
        f"one Adam step, batch {BATCH} x {SECONDS:g} s at {RATE} Hz, {torch.get_num_threads()} thread, "
        f"CPU seconds (mean of {steps} after a warm-up); ratio = paper network / this row"
    )
    print(f"{'network':36s} {'params':>7s} {'path':>6s} " + " ".join(f"{s:>21s}" for s in STAGES))
    base: dict[str, float] = {}
    for label, (recipe, overrides) in CANDIDATES.items():
        module = CaeMaeModule(load_config(RECIPES / recipe, ["output_dir=unused", *overrides]))
        net = module.net
        total = sum(p.numel() for p in net.parameters()) / 1e6
        path = sum(p.numel() for part in (net.mae.encoder, net.cae.decoder) for p in part.parameters()) / 1e6
        cells = []
        for stage in STAGES:
            cost = step_cost(module, batch, stage, steps)
            base.setdefault(stage, cost)
            cells.append(f"{cost:6.3f} s {60 / cost:5.1f}/min {base[stage] / cost:4.1f}x")
        print(f"{label:36s} {total:6.2f}M {path:5.2f}M " + " ".join(cells), flush=True)


if __name__ == "__main__":
    main()
