"""recipes/enhance/teacher_set.py: the teacher hears a normal level and a pre-roll, and a failed teacher leaves the speech."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from sepkit.data import file_entry, write_manifest
from sepkit_fixtures import speechlike

ROOT = Path(__file__).resolve().parent.parent
RATE = 8000
STARTUP = RATE // 2  # samples the fake teacher mutes at the start of whatever it hears


def _script():
    spec = importlib.util.spec_from_file_location("teacher_set", ROOT / "recipes" / "enhance" / "teacher_set.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["teacher_set"] = module  # its job processes (forked) find _write_items by this name
    spec.loader.exec_module(module)
    return module


def _quiet_and_slow_teacher(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mutes its first half second, and everything when the input is below -40 dBFS RMS; else 0.9 x the input."""
    if 20 * np.log10(np.sqrt(np.mean(audio**2)) + 1e-12) < -40:
        return np.zeros_like(audio)
    out = 0.9 * audio
    out[..., :STARTUP] = 0.0
    return out


def _muting_teacher(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    return np.zeros_like(audio)


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    """A training config whose stream mixes two speechlike talkers with white noise at 20 dB SNR and -45 dBFS."""
    speech, noise = [], []
    for s in range(2):
        path = tmp_path / f"spk{s}.wav"
        sf.write(path, speechlike(2.0, RATE, seed=s)[0], RATE)
        speech.append(file_entry(path, "train", "speech", f"spk{s}"))
    path = tmp_path / "noise.wav"
    sf.write(path, (0.05 * np.random.default_rng(0).standard_normal(3 * RATE)).astype(np.float32), RATE)
    noise.append(file_entry(path, "train", "noise"))
    write_manifest(speech, tmp_path / "speech.jsonl")
    write_manifest(noise, tmp_path / "noise.jsonl")
    train = {
        "type": "noisy_speech",
        "speech_manifest": str(tmp_path / "speech.jsonl"),
        "noise_manifest": str(tmp_path / "noise.jsonl"),
        "split": "train",
        "snr_range": [20, 20],
        "level_range_db": [-45, -45],
    }
    cfg = tmp_path / "stream.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "task": "enhance",
                "sample_rate": RATE,
                "seed": 0,
                "model": {"arch": "fast_enhancer"},
                "output_dir": "run",
                "data": {"train": train},
            }
        )
    )
    return cfg


def _read(folder: Path, name: str) -> np.ndarray:
    return sf.read(folder / name, dtype="float32")[0]


def _write_set(config: Path, out: Path, monkeypatch: pytest.MonkeyPatch, teacher, *args: str) -> list[dict]:
    """Run the script with ``teacher`` in place of the named baseline; the rows of its ``teacher.jsonl``."""
    script = _script()
    monkeypatch.setattr(script, "baseline_enhancer", lambda name: teacher)
    assert script.main([str(config), str(out), "--seconds", "1.5", *args]) == 0
    return [json.loads(line) for line in (out / "teacher.jsonl").read_text().splitlines()]


def test_quiet_mixtures_get_the_teachers_output_at_their_own_level(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "set"
    rows = _write_set(config, out, monkeypatch, _quiet_and_slow_teacher, "--items", "3", "--preroll", "1.0")
    assert [r["target"] for r in rows] == ["teacher"] * 3
    for r in rows:
        mix, target = _read(out / "mix", f"{r['id']}.wav"), _read(out / "s1", f"{r['id']}.wav")
        assert 20 * np.log10(np.sqrt(np.mean(mix**2))) == pytest.approx(-45, abs=0.5)
        # heard at -25 dBFS (not muted) and after the pre-roll (its start-up silence falls before the item)
        np.testing.assert_allclose(target, 0.9 * mix, atol=1e-6)


def test_without_a_preroll_the_teachers_startup_costs_the_item_its_teacher_target(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "set"
    (row,) = _write_set(config, out, monkeypatch, _quiet_and_slow_teacher, "--items", "1", "--preroll", "0")
    # a third of the item muted: far below the mixture against the speech, so the speech is the target
    assert row["teacher_si_sdr"] < row["input_si_sdr"] - 3 and row["target"] == "clean"
    np.testing.assert_array_equal(_read(out / "s1", "000000.wav"), _read(out / "clean", "000000.wav"))


def test_a_failed_teacher_leaves_the_speech_as_the_target(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "set"
    rows = _write_set(config, out, monkeypatch, _muting_teacher, "--items", "2", "--jobs", "2")
    assert [r["target"] for r in rows] == ["clean", "clean"]
    for r in rows:
        np.testing.assert_array_equal(_read(out / "s1", f"{r['id']}.wav"), _read(out / "clean", f"{r['id']}.wav"))


def test_the_job_count_does_not_change_the_set(config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = _write_set(config, tmp_path / "one", monkeypatch, _quiet_and_slow_teacher, "--items", "3", "--jobs", "1")
    two = _write_set(config, tmp_path / "two", monkeypatch, _quiet_and_slow_teacher, "--items", "3", "--jobs", "2")
    assert one == two
    for r in one:
        for folder in ("mix", "s1", "clean"):
            np.testing.assert_array_equal(
                _read(tmp_path / "one" / folder, f"{r['id']}.wav"), _read(tmp_path / "two" / folder, f"{r['id']}.wav")
            )


def test_an_existing_folder_is_refused(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "set").mkdir()
    assert _script().main([str(config), str(tmp_path / "set")]) == 2
    assert "exists" in capsys.readouterr().err
