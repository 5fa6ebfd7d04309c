"""``sepkit score`` end to end (in-process): every folder layout, CSV/JSON output, one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepkit.metrics import si_sdr
from sepkit_fixtures import run_cli, speechlike

SR = 16000


def score(capsys: pytest.CaptureFixture[str], root: Path, *extra: object, mix: bool = True) -> tuple[int, str, str]:
    """``sepkit score`` of ``root``'s est/ against its ref/ (and with ``mix``, its mix/), then ``extra``."""
    folders = ("est", "ref", "mix") if mix else ("est", "ref")
    return run_cli(capsys, "score", *(a for f in folders for a in (f"--{f}", root / f)), *extra)


def write(path: Path, audio: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(audio).T, sr, subtype="FLOAT" if path.suffix == ".wav" else "PCM_24")
    return path


def sources(seed: int, seconds: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    return speechlike(seconds, SR, seed)[0], speechlike(seconds, SR, seed + 100)[0]


def noisy(x: np.ndarray, seed: int) -> np.ndarray:
    return x + 0.02 * np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32)


@pytest.fixture
def enh(tmp_path: Path) -> Path:
    """est/, ref/, mix/ with u0, u1 (enhancement layout)."""
    for i in range(2):
        a, b = sources(i)
        write(tmp_path / "ref" / f"u{i}.wav", a)
        write(tmp_path / "mix" / f"u{i}.wav", a + 0.3 * b)
        write(tmp_path / "est" / f"u{i}.wav", noisy(a, i))
    return tmp_path


def test_enhancement_layout_table_csv_json(capsys, enh: Path) -> None:
    code, out, err = score(
        capsys, enh, "--metrics", "si_sdr,pesq,stoi", "--csv", enh / "o.csv", "--json", enh / "o" / "o.json"
    )
    assert code == 0, err
    assert "2 file(s)" in out and "si_sdri" in out and "pesq" in out
    rows = list(csv.DictReader((enh / "o.csv").open()))
    assert [r["name"] for r in rows] == ["u0", "u1"]
    assert list(rows[0]) == ["name", "si_sdr", "si_sdri", "pesq", "stoi"]
    est, ref, mix = (sf.read(enh / d / "u1.wav")[0] for d in ("est", "ref", "mix"))
    assert float(rows[1]["si_sdr"]) == pytest.approx(si_sdr(est, ref), abs=1e-9)
    assert float(rows[1]["si_sdri"]) == pytest.approx(si_sdr(est, ref) - si_sdr(mix, ref), abs=1e-9)
    doc = json.loads((enh / "o" / "o.json").read_text())
    assert doc["count"] == 2 and doc["metrics"] == ["si_sdr", "si_sdri", "pesq", "stoi"]
    assert doc["means"]["pesq"] == pytest.approx(np.mean([float(r["pesq"]) for r in rows]))
    assert doc["rows"][0]["name"] == "u0"


@pytest.mark.parametrize("layout", ["suffix", "librimix"])
def test_separation_layouts_match_swapped_outputs(capsys, tmp_path: Path, layout: str) -> None:
    for i in range(2):
        a, b = sources(10 + i)
        if layout == "suffix":
            write(tmp_path / "ref" / f"m{i}_s1.wav", a)
            write(tmp_path / "ref" / f"m{i}_s2.wav", b)
        else:
            write(tmp_path / "ref" / "s1" / f"m{i}.wav", a)
            write(tmp_path / "ref" / "s2" / f"m{i}.flac", b)
            write(tmp_path / "ref" / "noise" / f"m{i}.wav", 0 * a)  # LibriMix extras are ignored
        write(tmp_path / "mix" / f"m{i}.wav", a + b)
        write(tmp_path / "est" / f"m{i}_s1.wav", noisy(b, i))  # swapped on purpose
        write(tmp_path / "est" / f"m{i}_s2.wav", noisy(a, i + 5))
    code, out, err = score(capsys, tmp_path, "--metrics", "si_sdr,sdr", "--json", tmp_path / "o.json")
    assert code == 0, err
    doc = json.loads((tmp_path / "o.json").read_text())
    assert [r["perm"] for r in doc["rows"]] == [[2, 1], [2, 1]]
    assert doc["means"]["si_sdr"] > 15 and doc["means"]["si_sdri"] > 15 and "sdri" in doc["means"]


def test_score_what_separate_writes(capsys, tmp_path: Path, sep_model_dir: Path) -> None:
    a, b = sources(20, seconds=0.6)
    write(tmp_path / "mix" / "m.wav", a + b)
    write(tmp_path / "ref" / "s1" / "m.wav", a)
    write(tmp_path / "ref" / "s2" / "m.wav", b)
    code, _, err = run_cli(
        capsys, "separate", tmp_path / "mix" / "m.wav", "--out-dir", tmp_path / "est", "--model", sep_model_dir
    )
    assert code == 0, err
    code, out, err = score(capsys, tmp_path, "--metrics", "si_sdr", "--csv", tmp_path / "o.csv")
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "o.csv").open()))
    assert len(rows) == 1 and rows[0]["perm"] in ("1 2", "2 1") and np.isfinite(float(rows[0]["si_sdri"]))


def test_dnsmos_alone_needs_no_reference(capsys, tmp_path: Path) -> None:
    write(tmp_path / "est" / "a.wav", noisy(sources(30, seconds=1.2)[0], 0))
    code, out, err = run_cli(
        capsys, "score", "--est", tmp_path / "est", "--metrics", "dnsmos", "--json", tmp_path / "o.json"
    )
    assert code == 0, err
    means = json.loads((tmp_path / "o.json").read_text())["means"]
    assert set(means) == {"dnsmos_ovrl", "dnsmos_sig", "dnsmos_bak", "dnsmos_p808"}
    assert all(1.0 <= v <= 5.0 for v in means.values())


def test_estimate_is_resampled_to_reference_rate(capsys, tmp_path: Path) -> None:
    a = speechlike(1.5, 8000, seed=40)[0]
    write(tmp_path / "ref" / "a.wav", a, sr=8000)
    from sepkit.metrics._common import resample

    write(tmp_path / "est" / "a.wav", resample(a.astype(np.float64), 8000, 16000).astype(np.float32), sr=16000)
    code, _, err = score(capsys, tmp_path, "--metrics", "si_sdr", "--json", tmp_path / "o.json", mix=False)
    assert code == 0, err
    assert json.loads((tmp_path / "o.json").read_text())["means"]["si_sdr"] > 30


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("sepkit: error:"), err
    for needle in needles:
        assert needle in lines[0], err


def test_missing_ref_folder(capsys, enh: Path) -> None:
    code, _, err = run_cli(capsys, "score", "--est", enh / "est", "--ref", enh / "nope")
    assert_one_line_error(code, err, "nope", "no such folder")


def test_unknown_metric(capsys, enh: Path) -> None:
    code, _, err = score(capsys, enh, "--metrics", "si_sdr,bogus", mix=False)
    assert_one_line_error(code, err, "unknown metric 'bogus'")


def test_unmatched_estimate(capsys, enh: Path) -> None:
    write(enh / "est" / "extra.wav", sources(50)[0])
    code, _, err = score(capsys, enh, "--metrics", "si_sdr", mix=False)
    assert_one_line_error(code, err, "extra.wav", "no reference")


def test_intrusive_metric_without_ref(capsys, enh: Path) -> None:
    code, _, err = run_cli(capsys, "score", "--est", enh / "est", "--metrics", "pesq")
    assert_one_line_error(code, err, "--ref")
