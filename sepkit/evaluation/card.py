"""Put an evaluation into a model's CARD.md: front-matter numbers for tools, a table for people."""

from __future__ import annotations

import math
import re
from pathlib import Path

import yaml

from sepkit.atomic import AtomicFile
from sepkit.data.paths import portable
from sepkit.evaluation.compare import Evaluation
from sepkit.metrics.fingerprint import SHOWN
from sepkit.pretrained import CARD_FILE, read_card

SECTION = "## Test-set scores"


def write_test_scores(model_dir: Path, result: Evaluation, test_set: str, command: str, device: str) -> Path:
    """Add (or replace) the card's ``test_set``/``test_scores`` front matter and its test-score section."""
    test_set, command = portable(test_set), portable(command)  # corpus paths as $SEPKIT_DATA/...
    meta, body = read_card(model_dir)
    meta["test_set"] = test_set
    meta["test_set_digest"] = result.test_set  # sepkit.metrics.fingerprint: the same digest, the same audio
    meta["test_scores"] = {
        system: {k: round(v, 3) for k, v in means.items() if math.isfinite(v)} for system, means in result.means.items()
    }
    meta["test_rtf"] = {
        s: round(t / result.audio_seconds, 4) for s, t in result.seconds.items() if result.audio_seconds
    }
    section = (
        f"{SECTION}\n\n{result.files} files of `{test_set}` ({result.audio_seconds / 60:.1f} min, audio digest "
        f"`{result.test_set[:SHOWN]}`), every system "
        f"measured in the same run on {device}; RTF is processing time over audio duration:\n\n"
        f"{result.table()}\nReproduce with:\n\n```bash\n{command}\n```\n"
    )
    body = re.sub(rf"\n?{re.escape(SECTION)}\n.*?(?=\n## |\Z)", "", body, flags=re.S).rstrip("\n")
    front = yaml.safe_dump(meta, sort_keys=False, default_flow_style=None, width=1000)
    text = f"---\n{front}---\n{body}\n\n{section}"
    path = Path(model_dir) / CARD_FILE
    with AtomicFile(path, ".tmp") as out:
        out.path.write_text(text)
    return path
