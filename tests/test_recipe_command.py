"""A recipe's one command end to end: train the tiny config, export, score beside noisereduce, card updated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepkit.pretrained import read_card

REPO = Path(__file__).resolve().parent.parent
SR = 8000


@pytest.mark.slow
def test_enhance_run_sh_trains_scores_and_writes_the_card(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    for i in range(2):
        clean = (0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) * np.sin(2 * np.pi * 3 * t)).astype(np.float32)
        for folder, audio in (("ref", clean), ("mix", clean + 0.05 * rng.standard_normal(SR).astype(np.float32))):
            (tmp_path / folder).mkdir(exist_ok=True)
            sf.write(tmp_path / folder / f"u{i}.wav", audio, SR)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "JOBS": "1",
        "OMP_NUM_THREADS": "1",
    }
    run = tmp_path / "run"
    proc = subprocess.run(
        [
            "bash",
            "recipes/enhance/run.sh",
            "recipes/enhance/tiny.yaml",
            f"output_dir={run}",
            f"test.mix={tmp_path / 'mix'}",
            f"test.ref={tmp_path / 'ref'}",
            "data.num_workers=0",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    means = json.loads((run / "test" / "scores.json").read_text())["means"]
    assert list(means) == ["unprocessed", "noisereduce", "enhance-tiny"]
    assert {"si_sdri", "pesq", "estoi", "dnsmos_ovrl"} <= set(means["enhance-tiny"])
    meta, body = read_card(run / "export")
    assert set(meta["test_scores"]) == set(means) and "## Test-set scores" in body
    assert sorted(p.name for p in (run / "test" / "model").iterdir()) == ["u0.wav", "u1.wav"]
