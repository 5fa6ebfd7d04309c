"""Training-step and inference cost of enhancer candidates, beside the fast_enhancer they would replace.

One Adam step on a batch of 16 x 3 s (CPU time, after two warm-up steps) and one-thread inference
RTF on 20 s, for each configuration, measured in the same run:
    OMP_NUM_THREADS=1 python benchmarks/enhancer_step_cost.py
"""

from __future__ import annotations

import time

import torch

from sepkit.losses import pairwise_neg_si_sdr
from sepkit.models import build_model

CANDIDATES = {
    "fast_enhancer 512/128 (baseline)": ("fast_enhancer", dict(n_fft=512, hop=128, hidden=256, layers=2)),
    "filter_enhancer 320/160": ("filter_enhancer", {}),
    "filter_enhancer hidden 384": ("filter_enhancer", dict(hidden=384)),
    "filter_enhancer 3 layers": ("filter_enhancer", dict(layers=3)),
    "stage 10 (look-ahead 2, context 16)": ("filter_enhancer", dict(lookahead=2, spectral_context=16)),
    "stage 13 (look-ahead 2, context 32)": ("filter_enhancer", dict(lookahead=2, spectral_context=32)),
}


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, s = torch.randn(16, 48000) * 0.1, torch.randn(16, 1, 48000) * 0.1
    base = None
    for label, (arch, args) in CANDIDATES.items():
        model = build_model(arch, **args)
        opt = torch.optim.AdamW(model.parameters(), 1e-3)
        for i in range(6):
            if i == 2:
                start = time.process_time()
            loss = pairwise_neg_si_sdr(model(x), s).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        step = (time.process_time() - start) / 4
        base = base or step
        with torch.no_grad():
            t0 = time.process_time()
            model(torch.randn(1, 16000 * 20))
            rtf = (time.process_time() - t0) / 20
        params = sum(p.numel() for p in model.parameters()) / 1e6
        print(
            f"{label:34s} {params:5.2f} M params  step {step:5.2f} s ({step / base:4.2f}x)  "
            f"CPU-s per audio-s {step / 48:.4f}  RTF {rtf:.4f}"
        )


if __name__ == "__main__":
    main()
