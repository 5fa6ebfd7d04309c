"""Score each path through a CAE/MAE checkpoint, to see which part of the method holds and which fails.

On paired items (``MIX/<stem>.wav`` noisy, ``REF/<stem>.wav`` clean), SI-SDR in dB of:
``cae(clean)`` the clean autoencoder's reconstruction of the clean speech, ``mae(noisy)`` the mixture
autoencoder's reconstruction of the noisy input, ``enhance`` the MAE encoder -> CAE decoder path
(what the exported model runs) against the clean speech, ``ratio mask`` the noisy input scaled by the two
decoders' ratio on the MAE's code (``mask: ratio``'s path, whichever mask the run was trained with) against
the clean speech, and ``cae(noisy)`` the noisy input through the clean autoencoder against the clean speech.
``input`` is the noisy input against the clean speech. All through the model's own resynthesis (its level side
path, the input's phase). It also prints how much of the noisy input's energy the ratio mask removes (dB, mean
over items): a path that scores near its input because its gain stays near 1 shows a figure near 0.

``--latents`` also prints where the codes lie: mean and standard deviation over all elements of
``z_a = E_A(clean)``, ``z_b = E_B(noisy)`` and ``E_A(noisy)``, the mean squared distance of each to
``z_a`` (``z_b``'s is the run's ``val/latent_distance``) and the mean over channels of the
per-channel means' and standard deviations' absolute differences to ``z_a``'s (pooled over items).

    python recipes/cae_mae/path_scores.py runs/cae-mae-cpu-small/checkpoints/last.ckpt \
        --mix "$SEPKIT_DATA/demo/fixed/enh_dev/mix" --ref "$SEPKIT_DATA/demo/fixed/enh_dev/s1" --items 40
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from sepkit.audio.io import read_audio
from sepkit.audio.resample import resample
from sepkit.metrics import si_sdr
from sepkit.train.export import checkpoint_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path, help="a cae_mae training checkpoint (both autoencoders)")
    parser.add_argument("--mix", type=Path, required=True, help="folder of noisy <stem>.wav")
    parser.add_argument("--ref", type=Path, required=True, help="folder of clean <stem>.wav")
    parser.add_argument("--items", type=int, default=40, help="score the first N stems")
    parser.add_argument("--latents", action="store_true", help="also print the codes' statistics (module doc)")
    args = parser.parse_args()

    net, _, _, _ = checkpoint_model(args.checkpoint, inference_only=False)
    net.eval()

    def load(path: Path) -> torch.Tensor:
        audio, rate = read_audio(path)
        return resample(torch.as_tensor(audio.mean(0))[None], rate, net.sample_rate)

    scores: dict[str, list[float]] = {
        "input": [],
        "cae(clean)": [],
        "mae(noisy)": [],
        "enhance": [],
        "ratio mask": [],
        "cae(noisy)": [],
    }
    codes: dict[str, list[torch.Tensor]] = {"z_a": [], "z_b": [], "E_A(noisy)": []}
    removed_db: list[float] = []
    with torch.no_grad():
        for path in sorted(args.mix.glob("*.wav"))[: args.items]:
            noisy, clean = load(path), load(args.ref / path.name)
            scores["input"].append(float(si_sdr(noisy, clean).mean()))
            scores["cae(clean)"].append(
                float(si_sdr(net.through(clean, net.cae.encoder, net.cae.decoder), clean).mean())
            )
            scores["mae(noisy)"].append(
                float(si_sdr(net.through(noisy, net.mae.encoder, net.mae.decoder), noisy).mean())
            )
            scores["enhance"].append(float(si_sdr(net.through(noisy, net.mae.encoder, net.cae.decoder), clean).mean()))
            masked = net.ratio_masked(noisy)
            scores["ratio mask"].append(float(si_sdr(masked, clean).mean()))
            removed_db.append(float(10 * torch.log10(noisy.square().sum() / masked.square().sum().clamp_min(1e-20))))
            scores["cae(noisy)"].append(
                float(si_sdr(net.through(noisy, net.cae.encoder, net.cae.decoder), clean).mean())
            )
            if args.latents:
                x_noisy, x_clean = net.features(noisy), net.features(clean)
                codes["z_a"].append(net.cae.encoder(x_clean)[0])  # (C, frames)
                codes["z_b"].append(net.mae.encoder(x_noisy)[0])
                codes["E_A(noisy)"].append(net.cae.encoder(x_noisy)[0])
    print(f"{args.checkpoint} ({len(scores['input'])} items), mean SI-SDR in dB:")
    for name, values in scores.items():
        print(f"  {name:12s} {np.mean(values):7.2f}")
    print(f"ratio mask removes {np.mean(removed_db):.2f} dB of the noisy input's energy (mean over items)")
    if args.latents:
        z_a = torch.cat(codes["z_a"], -1)
        print("codes (pooled frames): mean, std, mean sq. distance to z_a, channel |mean diff|, channel |std diff|:")
        for name, parts in codes.items():
            z = torch.cat(parts, -1)
            print(
                f"  {name:11s} {float(z.mean()):7.3f} {float(z.std()):7.3f} {float((z - z_a).square().mean()):7.3f}"
                f" {float((z.mean(-1) - z_a.mean(-1)).abs().mean()):7.3f} {float((z.std(-1) - z_a.std(-1)).abs().mean()):7.3f}"
            )


if __name__ == "__main__":
    main()
