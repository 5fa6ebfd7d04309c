#!/usr/bin/env python3
"""Score a MixIT separator on single mixtures under four ways to make K sources of its M outputs.

    python recipes/mixit/output_choice.py MODEL --mix DIR --ref DIR [--json FILE]

- oracle: per mixture, the K outputs (and order) that best match the references: the paper's
  evaluation, which needs the references and so is no way to deploy a model;
- oracle_groups: per mixture, the outputs summed in the K groups that best match the references
  (the ceiling of any grouping rule);
- fixed: the outputs chosen at validation (the exported ``source_outputs`` list);
- loudest: in every chunk the K outputs of most energy (``source_outputs: "loudest"``);
- balanced: in every chunk the M outputs summed in K groups of most alike energy (``source_outputs: "balanced"``).

SI-SDRi is the mean SI-SDR gain over the unprocessed mixture, at the mixtures' own rate, with
every output through the same inference engine as ``sepkit separate``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

import sepkit
from sepkit.audio.io import read_audio
from sepkit.inference.output_groups import partitions
from sepkit.metrics.pairing import sources
from sepkit.metrics.sisdr import si_sdr
from sepkit.pretrained import BALANCED, LOUDEST
from sepkit.train.mixit import fixed_set_scores


def main() -> None:
    """Parse the arguments, score every mixture, print (and optionally write) the means."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="exported MixIT model (folder or shipped name)")
    parser.add_argument("--mix", type=Path, required=True)
    parser.add_argument("--ref", type=Path, required=True, help="s1/, s2/, ... folders or <stem>_s1.wav files")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    model = sepkit.load(args.model, device="cpu")
    picks = model.config.source_outputs
    fixed = [] if picks is None or isinstance(picks, str) else list(picks)
    everything = model.with_outputs(None)  # the same network: every output, and the loudest K per chunk
    loudest, balanced = model.with_outputs(LOUDEST), model.with_outputs(BALANCED)
    gains: dict[str, list[float]] = {"oracle": [], "oracle_groups": [], "fixed": [], "loudest": [], "balanced": []}
    for stem, ref_files in sorted(sources(args.ref, "reference").items()):
        mix, rate = read_audio(next(args.mix.glob(f"{stem}.*")))
        refs = np.stack([read_audio(f)[0][0] for f in ref_files])  # (K, T), first channel
        x = mix[0]
        base = float(np.mean(si_sdr(np.broadcast_to(x, refs.shape), refs)))
        outs = np.asarray(everything.separate(x, rate))  # (M, T)
        oracle = fixed_set_scores(torch.from_numpy(outs[None]), torch.from_numpy(refs[None])).max()
        gains["oracle"].append(float(oracle) / len(refs) - base)
        groups = np.einsum("pkm,mt->pkt", partitions(len(outs), len(refs)).numpy(), outs)  # every grouping
        gains["oracle_groups"].append(max(best_order(g, refs) for g in groups) - base)
        if fixed:
            gains["fixed"].append(best_order(outs[fixed], refs) - base)
        gains["loudest"].append(best_order(np.asarray(loudest.separate(x, rate)), refs) - base)
        gains["balanced"].append(best_order(np.asarray(balanced.separate(x, rate)), refs) - base)
    means = {k: round(float(np.mean(v)), 3) for k, v in gains.items() if v}
    means["items"] = len(gains["oracle"])
    print(json.dumps(means))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(means, indent=1) + "\n")


def best_order(est: np.ndarray, refs: np.ndarray) -> float:
    """Mean SI-SDR of ``est`` ``(K, T)`` against ``refs`` ``(K, T)`` in its best order."""
    scores = fixed_set_scores(torch.from_numpy(np.ascontiguousarray(est))[None], torch.from_numpy(refs)[None])
    return float(scores.max()) / len(refs)


if __name__ == "__main__":
    main()
