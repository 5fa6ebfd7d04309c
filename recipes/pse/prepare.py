#!/usr/bin/env python3
"""Make one speaker of the demo corpus into a personalisation test case (see README.md).

    python recipes/pse/prepare.py SPEAKER OUT [--corpus $SEPKIT_DATA/demo] [--premixture-snr 0 10]

Noise roles, so that no noise recording crosses: the speaker's "environment" (in their
premixtures) is the corpus's dev-split noise; the dev/test mixtures use its test-split noise;
training injects its train-split noise, the noise the generalist enhance-default trained on.
The speaker must not be in the corpus's train split (enhance-default trained on those).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sepkit.data.manifest import read_manifest
from sepkit.data.paths import data_root
from sepkit.data.speaker_sets import SpeakerSetOptions, write_speaker_sets


def main() -> None:
    """Parse the arguments and write the speaker's folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("speaker", help="speaker id in the corpus's speech manifest, e.g. asterisk-ivrvoiceru")
    parser.add_argument("out", type=Path, help="folder for the speaker's sets")
    parser.add_argument(
        "--corpus", type=Path, default=data_root() / "demo", help="the demo corpus [default: $SEPKIT_DATA/demo]"
    )
    parser.add_argument("--premixture-snr", type=float, nargs=2, default=(0.0, 10.0), metavar=("LO", "HI"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    speech = read_manifest(args.corpus / "manifests" / "speech.jsonl", check=False)
    noise = read_manifest(args.corpus / "manifests" / "noise.jsonl", check=False)
    splits = {e["split"] for e in speech if e.get("speaker") == args.speaker}
    if not splits:
        parser.error(f"no speaker {args.speaker!r} in {args.corpus}/manifests/speech.jsonl")
    if "train" in splits:
        parser.error(
            f"speaker {args.speaker!r} is in the corpus's train split, which enhance-default trained on: "
            f"pick a dev or test speaker"
        )
    by_split = {s: [e for e in noise if e["split"] == s] for s in ("train", "dev", "test")}
    opts = SpeakerSetOptions(premixture_snr=tuple(args.premixture_snr), seed=args.seed)
    written = write_speaker_sets(
        speech,
        args.speaker,
        environment_noise=by_split["dev"],
        test_noise=by_split["test"],
        inject_noise=by_split["train"],
        out=args.out,
        opts=opts,
    )
    for name, path in written.items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
