"""Write the yardstick's slice labels plus a ``profile`` slice for `sepkit evaluate --slices`.

``profile`` marks the items that look like the issue's private test set (clean English read speech,
-5..10 dB SNR, 16 kHz clips of 1 s or more, dry, normal level), so one evaluation run reports that
subset beside the rest:

    python recipes/enhance/profile_slices.py $SEPKIT_DATA/yardstick/enh/items.jsonl runs/profile-slices.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PROFILE = "clean English, -5..10 dB, dry"
SNRS = ("-5..0 dB", "0..5 dB", "5..10 dB")


def profile_of(slices: dict[str, str]) -> str:
    """``PROFILE`` when an item's labels match the profile, else ``"other"``."""
    like = (
        slices.get("language") == "English"
        and slices.get("reference") == "clean"
        and slices.get("snr") in SNRS
        and slices.get("bandwidth") == "16 kHz"
        and slices.get("length") == ">= 1 s"
        and slices.get("reverb") == "dry"
        and slices.get("level") != "-40 dBFS"
    )
    return PROFILE if like else "other"


def main(items_path: Path, out_path: Path) -> None:
    """Copy every item's labels from ``items_path`` to ``out_path`` with ``profile`` added."""
    rows = [json.loads(line) for line in items_path.read_text().splitlines() if line.strip()]
    lines = [json.dumps({"id": r["id"], "slices": {**r["slices"], "profile": profile_of(r["slices"])}}) for r in rows]
    out_path.write_text("\n".join(lines) + "\n")
    print(f"{sum(PROFILE in line for line in lines)} of {len(rows)} items in the profile")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
