"""``sepkit evaluate``: model and baselines scored in one run, and the card entry it writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepkit.metrics import si_sdr
from sepkit.metrics.fingerprint import folder_digest
from sepkit.pretrained import read_card
from sepkit_fixtures import run_cli, speechlike

SR = 16000


def evaluate_enhancer(
    capsys: pytest.CaptureFixture[str], model: Path, test_set: Path, *extra: object
) -> tuple[int, str, str]:
    """``sepkit evaluate`` of an enhancer on ``test_set``'s noisy utterances (mix/ against s1/), then ``extra``."""
    return run_cli(capsys, "evaluate", model, "--mix", test_set / "mix", "--ref", test_set / "s1", *extra)


def evaluate_separator(
    capsys: pytest.CaptureFixture[str], model: Path, test_set: Path, *extra: object
) -> tuple[int, str, str]:
    """``sepkit evaluate`` of a separator on ``test_set``'s two-speaker mixtures (mix2/ against s1/ and s2/)."""
    return run_cli(capsys, "evaluate", model, "--mix", test_set / "mix2", "--ref", test_set, *extra)


@pytest.fixture
def test_set(tmp_path: Path) -> Path:
    """mix/ and s1/ for three noisy utterances, plus s2/ (a second speaker) for separation."""
    rng = np.random.default_rng(0)
    for i in range(3):
        clean, other = speechlike(1.5, SR, i)[0], speechlike(1.5, SR, 50 + i)[0]
        noise = 0.05 * rng.standard_normal(clean.shape).astype(np.float32)
        for folder, audio in (("s1", clean), ("s2", other), ("mix", clean + noise), ("mix2", clean + other)):
            (tmp_path / folder).mkdir(exist_ok=True)
            sf.write(tmp_path / folder / f"u{i}.wav", audio, SR, subtype="FLOAT")
    return tmp_path


def test_enhancer_beside_unprocessed_and_noisereduce(
    test_set: Path, enh_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    shutil.copytree(enh_model_dir, model)
    report = tmp_path / "eval.json"
    args = [
        "--baseline",
        "noisereduce",
        "--metrics",
        "si_sdr,estoi",
        "--json",
        report,
        "--update-card",
        "--test-name",
        "tiny",
    ]
    code, out, err = evaluate_enhancer(capsys, model, test_set, *args)
    assert code == 0, err
    doc = json.loads(report.read_text())
    assert list(doc["means"]) == ["unprocessed", "noisereduce", "test-enh"]
    digest = folder_digest(test_set / "mix", test_set / "s1")  # which audio these scores came from
    assert doc["test_set_digest"] == digest and f"audio digest {digest[:12]}" in out
    # the unprocessed row is the mixture scored as it is: no improvement, the SI-SDR of the input
    unprocessed = doc["means"]["unprocessed"]
    assert unprocessed["si_sdri"] == pytest.approx(0.0, abs=1e-9)
    direct = np.mean(
        [
            si_sdr(sf.read(test_set / "mix" / f"u{i}.wav")[0], sf.read(test_set / "s1" / f"u{i}.wav")[0])
            for i in range(3)
        ]
    )
    assert unprocessed["si_sdr"] == pytest.approx(direct, abs=1e-6)
    assert doc["means"]["noisereduce"]["si_sdr"] != pytest.approx(direct, abs=1e-3)  # the baseline really ran
    assert "| noisereduce |" in out and "| unprocessed |" in out
    # per-file differences of the model against each other system, with an interval around their mean
    pair = doc["paired"]["noisereduce"]
    assert set(pair) == {"si_sdr", "estoi"} and pair["si_sdr"]["files"] == 3
    gap = doc["means"]["test-enh"]["si_sdr"] - doc["means"]["noisereduce"]["si_sdr"]
    assert pair["si_sdr"]["mean"] == pytest.approx(gap, abs=1e-9)
    assert pair["si_sdr"]["low"] <= pair["si_sdr"]["mean"] <= pair["si_sdr"]["high"]
    assert "| test-enh minus |" in out and "| unprocessed | " in out.split("Per-file differences")[1]

    meta, body = read_card(model)
    assert meta["test_set"] == "tiny" and meta["test_set_digest"] == digest
    assert set(meta["test_scores"]) == {"unprocessed", "noisereduce", "test-enh"}
    assert meta["test_scores"]["unprocessed"]["si_sdr"] == pytest.approx(direct, abs=1e-3)
    # a second evaluation replaces the section instead of appending another
    assert evaluate_enhancer(capsys, model, test_set, *args)[0] == 0
    meta2, body2 = read_card(model)
    assert body2.count("## Test-set scores") == 1 and set(meta) == set(meta2)


def test_models_lists_test_scores_from_the_card(
    test_set: Path,
    enh_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "shipped"
    shutil.copytree(enh_model_dir, root / "test-enh")
    code, _, err = evaluate_enhancer(
        capsys, root / "test-enh", test_set, "--metrics", "si_sdr", "--update-card", "--test-name", "tiny-set"
    )
    assert code == 0, err
    monkeypatch.setenv("SEPKIT_PRETRAINED", str(root))
    code, out, _ = run_cli(capsys, "models")
    assert code == 0 and "test (tiny-set): si_sdr" in out


def test_separator_unprocessed_row_and_permutation(
    test_set: Path, sep_model_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    report = tmp_path / "eval.json"
    code, out, err = evaluate_separator(capsys, sep_model_dir, test_set, "--metrics", "si_sdr", "--json", report)
    assert code == 0, err
    means = json.loads(report.read_text())["means"]
    assert means["unprocessed"]["si_sdri"] == pytest.approx(0.0, abs=1e-9)
    assert np.isfinite(means["test-sep2"]["si_sdr"])


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--baseline", "wiener9000"], "unknown baseline 'wiener9000'"),
        (["--metrics", "si_sdr,blah"], "blah"),
    ],
)
def test_bad_requests_fail_in_one_line(
    test_set: Path, enh_model_dir: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code, out, err = evaluate_enhancer(capsys, enh_model_dir, test_set, *extra)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_separator_with_enhancement_baseline_is_refused(
    test_set: Path, sep_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = evaluate_separator(capsys, sep_model_dir, test_set, "--baseline", "noisereduce")
    assert code == 2 and "separate model" in err


def test_another_model_is_a_baseline_run_and_scored_in_the_same_run(
    test_set: Path, sep_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "older"
    shutil.copytree(sep_model_dir, other)
    config = json.loads((other / "config.json").read_text())
    config["name"] = "older-sep2"
    (other / "config.json").write_text(json.dumps(config))
    report, work = tmp_path / "eval.json", tmp_path / "work"
    code, out, err = evaluate_separator(
        capsys,
        sep_model_dir,
        test_set,
        "--baseline",
        other,
        "--metrics",
        "si_sdr",
        "--json",
        report,
        "--work-dir",
        work,
    )
    assert code == 0, err
    doc = json.loads(report.read_text())
    assert list(doc["means"]) == ["unprocessed", "older-sep2", "test-sep2"]
    # the same weights under another name: the same outputs, so the same scores, each run on its own
    assert doc["means"]["older-sep2"]["si_sdr"] == pytest.approx(doc["means"]["test-sep2"]["si_sdr"], abs=1e-6)
    assert sorted(p.name for p in (work / "older-sep2").iterdir()) == sorted(p.name for p in (work / "model").iterdir())
    assert doc["seconds"]["older-sep2"] > 0 and "| older-sep2 |" in out


@pytest.mark.parametrize(
    "baseline, message",
    [
        ("self", "two systems are called 'test-sep2'"),
        ("enhancer", "does enhance, not separate like test-sep2"),
        ("not-a-model-dir", "not a sepkit model directory"),
    ],
)
def test_bad_model_baselines_fail_in_one_line(
    test_set: Path,
    sep_model_dir: Path,
    enh_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    baseline: str,
    message: str,
) -> None:
    (tmp_path / "empty").mkdir()
    target = {"self": sep_model_dir, "enhancer": enh_model_dir, "not-a-model-dir": tmp_path / "empty"}[baseline]
    code, _, err = evaluate_separator(capsys, sep_model_dir, test_set, "--baseline", target, "--metrics", "si_sdr")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_noisereduce_baseline_passes_a_silent_channel_through() -> None:
    pytest.importorskip("noisereduce")
    from sepkit.evaluation.baselines import baseline_enhancer

    speech = speechlike(1.5, SR, 3)[0] + 0.05 * np.random.default_rng(1).standard_normal(int(1.5 * SR))
    stereo = np.stack([np.zeros_like(speech), speech]).astype(np.float32)  # a recording with a dead left channel
    out = baseline_enhancer("noisereduce")(stereo, SR)
    assert out.shape == stereo.shape and np.isfinite(out).all()
    assert not out[0].any()
    assert not np.allclose(out[1], stereo[1])  # the live channel really was denoised


def test_paired_difference_interval_and_wins() -> None:
    from sepkit.evaluation.paired import paired_difference

    base = np.random.default_rng(2).normal(2.0, 0.5, 200)
    shifted = paired_difference(base + 0.1, base)
    assert shifted["mean"] == pytest.approx(0.1) and shifted["low"] == pytest.approx(0.1)
    assert shifted["high"] == pytest.approx(0.1) and shifted["wins"] == 1.0 and shifted["files"] == 200
    noise = np.random.default_rng(3).normal(0.0, 1.0, 200)
    tie = paired_difference(base + noise, base)
    assert tie["low"] < 0.0 < tie["high"] and 0.3 < tie["wins"] < 0.7
    assert paired_difference(base + noise, base) == tie  # seeded
    gap = np.append(base[:-1], np.nan)
    assert paired_difference(gap + 1.0, base)["files"] == 199
