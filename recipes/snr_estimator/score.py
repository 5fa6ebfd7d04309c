"""Score an exported segmental SNR estimator on a recipe's validation set, in the terms purification uses.

Prints JSON: the mean absolute error (dB), the error of the weights sigmoid(SNR), the share of
frames on the right side of 0 dB, each beside a constant guess (``sepkit.evaluation.snr_estimation``).
    python recipes/snr_estimator/score.py MODEL_DIR [--config recipes/snr_estimator/demo.yaml] [--items 256]
    python recipes/snr_estimator/score.py MODEL_DIR --recordings $SEPKIT_DATA/pse/SPEAKER/recordings.jsonl --items 200
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from sepkit.evaluation.snr_estimation import frame_errors, recording_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="exported estimator (folder or shipped name, e.g. snr-estimator)")
    parser.add_argument("--config", type=Path, default=Path(__file__).with_name("demo.yaml"))
    parser.add_argument("--items", type=int, default=256)
    parser.add_argument(
        "--recordings",
        type=Path,
        default=None,
        help="score on these noisy recordings instead (a manifest whose entries have a 'clean' path, "
        "e.g. the recordings.jsonl of recipes/pse/prepare.py)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.recordings is not None:
        scores = recording_errors(args.model, args.recordings, args.items)
    else:
        scores = frame_errors(args.model, args.config, args.items)
    print(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()
