"""How hard each loss term pulls: the norm of its gradient with respect to a model's output and to its weights.

Before a new term joins a loss, its weight can be set so that it pulls about as hard as the terms already there,
rather than by its value (ESTOI is near 0.6, SI-SDR in tens of dB). Scored on the first clips of a fixed set that
are at least ``--seconds`` long, cropped to that length, with the model's output held fixed. A separator takes one
``--ref`` per source; its outputs are assigned to them as PIT training assigns them (SI-SDR, ``--si-sdr-max``).

    python recipes/enhance/loss_balance.py --model enhance-default \
        --mix $SEPKIT_DATA/demo/fixed/enh_dev/mix --ref $SEPKIT_DATA/demo/fixed/enh_dev/s1 --items 16
    python recipes/enhance/loss_balance.py --model separate-2spk --si-sdr-max 30 --mix $SEPKIT_DATA/demo/fixed/sep2_dev/mix \
        --ref $SEPKIT_DATA/demo/fixed/sep2_dev/s1 --ref $SEPKIT_DATA/demo/fixed/sep2_dev/s2 --items 16 \
        --seconds 2 --search-crops
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from pystoi import stoi

import sepkit
from sepkit.losses import CompressedSpectrumLoss, MultiResolutionSTFTLoss, NegEstoiLoss, neg_si_sdr
from sepkit.losses.criteria import pairwise_neg_si_sdr
from sepkit.losses.pit import pit_loss, reorder


def _clips(
    mix_dir: Path, ref_dirs: list[Path], items: int, samples: int, max_silent: float, search: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``items`` mixtures ``(B, T)`` at least ``samples`` long, cropped to it, and their references ``(B, N, T)``.

    A crop in which a reference is more than ``max_silent`` digital silence is not used: there SI-SDR has no target
    and the STFT term's log of an exact zero dwarfs every other number (``max_silent`` 1 keeps every crop). Without
    ``search`` only each clip's start is tried; with it, the earliest usable crop on a grid of ``samples // 12``
    (two-speaker mixtures with partial overlap need the later crops). Clips with no usable crop are skipped.
    """
    mixes, refs = [], []
    for path in sorted(mix_dir.glob("*.wav")):
        mix, _ = sf.read(path, dtype="float32")
        if len(mix) < samples:
            continue
        sources = np.stack([sf.read(ref_dir / path.name, dtype="float32")[0] for ref_dir in ref_dirs])
        start = next(
            (
                s
                for s in range(0, len(mix) - samples + 1 if search else 1, max(1, samples // 12))
                if ((sources[:, s : s + samples] == 0).mean(axis=1) <= max_silent).all()
            ),
            None,
        )
        if start is None:
            continue
        mixes.append(torch.from_numpy(mix[start : start + samples]))
        refs.append(torch.from_numpy(sources[:, start : start + samples]))
        if len(mixes) == items:
            break
    return torch.stack(mixes), torch.stack(refs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="enhance-default")
    parser.add_argument("--mix", type=Path, required=True)
    parser.add_argument("--ref", type=Path, action="append", required=True, help="one folder per source")
    parser.add_argument("--items", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--max-silent", type=float, default=0.1, help="skip crops whose reference is more silence")
    parser.add_argument("--search-crops", action="store_true", help="crop where every source speaks, not at 0")
    parser.add_argument("--si-sdr-max", type=float, default=None, help="loss.si_sdr_max of the config (PIT: 30)")
    parser.add_argument(
        "--cspec-over", type=float, default=0.0, help="also print what loss.cspec_over adds to cspec x50 at this value"
    )
    args = parser.parse_args()
    model = sepkit.load(args.model)
    rate = model.sample_rate
    mix, ref = _clips(args.mix, args.ref, args.items, int(args.seconds * rate), args.max_silent, args.search_crops)
    net = model.net.eval()
    est = net(mix).reshape(ref.shape)  # one forward: every term's gradient flows back through this graph
    with torch.no_grad():  # the outputs' order, chosen as training chooses it (a no-op for one output)
        _, perm = pit_loss(est, ref, partial(pairwise_neg_si_sdr, sdr_max=args.si_sdr_max))
    est = reorder(est, perm)
    stft, cspec, estoi = MultiResolutionSTFTLoss(), CompressedSpectrumLoss(), NegEstoiLoss(rate)
    terms = {  # the weights of recipes/enhance/wide.yaml's loss, which every stage since 4 inherits
        "si_sdr x1": lambda e: neg_si_sdr(e, ref, sdr_max=args.si_sdr_max).mean(),
        "stft x0.3": lambda e: 0.3 * stft(e, ref),
        "cspec x50": lambda e: 50.0 * cspec(e, ref).mean(),
        "estoi x1": lambda e: estoi(e, ref).mean(),
    }
    if args.cspec_over:  # the asymmetric part alone: cspec with the over weight minus cspec without it
        over = CompressedSpectrumLoss(over_weight=args.cspec_over)
        terms[f"cspec_over {args.cspec_over:g}"] = lambda e: 50.0 * (over(e, ref) - cspec(e, ref)).mean()
    print(f"{args.model}: {mix.shape[0]} clips of {args.seconds:g} s")
    weights = [p for p in net.parameters() if p.requires_grad]
    for name, term in terms.items():
        value = term(est)
        out_grad, *grads = torch.autograd.grad(value, [est, *weights], retain_graph=True, allow_unused=True)
        weight_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads if g is not None]))
        print(
            f"{name:10s} value {value.item():9.4f}  gradient norm: output {out_grad.norm().item():9.3f},"
            f" weights {weight_norm.item():9.3f}"
        )
    est = est.detach()
    print(
        f"ESTOI (torch_stoi): output {-estoi(est, ref).mean().item():.4f}, input {-estoi(mix.unsqueeze(1).expand_as(ref).contiguous(), ref).mean().item():.4f}"
    )
    reference = [
        stoi(r.numpy(), e.numpy(), rate, extended=True)
        for r, e in zip(ref.flatten(0, 1), est.flatten(0, 1), strict=True)
    ]
    print(f"ESTOI (pystoi):     output {np.mean(reference):.4f}")


if __name__ == "__main__":
    main()
