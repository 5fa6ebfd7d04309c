"""``sepkit evaluate``'s score cache: unchanged systems are not run again, and any change to what decides a score
runs them again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import sepkit.evaluation.compare as compare
from sepkit.evaluation.score_cache import ScoreCache, cache_root
from sepkit_fixtures import run_cli, speechlike

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def test_set(tmp_path: Path) -> Path:
    """Three noisy speech-like files and their clean references."""
    rng = np.random.default_rng(0)
    for i in range(3):
        clean = speechlike(0.6, 16000, seed=i)[0]
        for folder, wav in (("ref", clean), ("mix", clean + 0.05 * rng.standard_normal(clean.size))):
            (tmp_path / "set" / folder).mkdir(parents=True, exist_ok=True)
            sf.write(tmp_path / "set" / folder / f"u{i}.wav", wav.astype(np.float32), 16000, subtype="FLOAT")
    return tmp_path / "set"


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the systems that were run, in order (the runners still run)."""
    ran: list[str] = []
    real_model, real_enhancer = compare._run_model, compare._run_enhancer

    def run_model(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        ran.append(name)
        return real_model(name, *args, **kwargs)

    def run_enhancer(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        ran.append(name)
        return real_enhancer(name, *args, **kwargs)

    monkeypatch.setattr(compare, "_run_model", run_model)
    monkeypatch.setattr(compare, "_run_enhancer", run_enhancer)
    return ran


def evaluate(
    capsys: pytest.CaptureFixture[str], model: Path, folder: Path, out: Path, *extra: object
) -> tuple[str, dict]:
    code, text, err = run_cli(
        capsys,
        "evaluate",
        model,
        "--mix",
        folder / "mix",
        "--ref",
        folder / "ref",
        "--baseline",
        "noisereduce",
        "--metrics",
        "si_sdr,estoi",
        "--json",
        out,
        *extra,
    )
    assert code == 0, err
    return text, json.loads(out.read_text())


def test_a_second_run_reuses_every_score_and_gives_the_same_result(
    capsys: pytest.CaptureFixture[str], enh_model_dir: Path, test_set: Path, tmp_path: Path, runs: list[str]
) -> None:
    _, first = evaluate(capsys, enh_model_dir, test_set, tmp_path / "a.json")
    assert runs == ["noisereduce", "test-enh"] and set(first["seconds"]) == {"noisereduce", "test-enh"}
    text, second = evaluate(capsys, enh_model_dir, test_set, tmp_path / "b.json")
    assert runs == ["noisereduce", "test-enh"]  # nothing ran again
    assert "reused the cached scores of unprocessed, noisereduce, test-enh" in text
    assert second["means"] == first["means"] and second["paired"] == first["paired"]
    assert second["seconds"] == {}  # a speed is measured only in the run that ran the system
    _, third = evaluate(capsys, enh_model_dir, test_set, tmp_path / "c.json", "--fresh")
    assert runs == ["noisereduce", "test-enh"] * 2 and third["means"] == first["means"]
    evaluate(capsys, enh_model_dir, test_set, tmp_path / "d.json", "--work-dir", tmp_path / "work")
    assert runs == ["noisereduce", "test-enh"] * 3  # the outputs were asked for, so everything ran
    assert sorted(p.name for p in (tmp_path / "work" / "noisereduce").iterdir()) == ["u0.wav", "u1.wav", "u2.wav"]


def test_changed_weights_or_test_set_run_again(
    capsys: pytest.CaptureFixture[str], enh_model_dir: Path, test_set: Path, tmp_path: Path, runs: list[str]
) -> None:
    evaluate(capsys, enh_model_dir, test_set, tmp_path / "a.json")
    retrained = shutil.copytree(enh_model_dir, tmp_path / "retrained")
    weights = retrained / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    text, _ = evaluate(capsys, retrained, test_set, tmp_path / "b.json")
    assert runs == ["noisereduce", "test-enh", "test-enh"]  # the model with new weights ran (its config keeps the
    # name), the baseline did not
    assert "reused the cached scores of unprocessed, noisereduce (" in text
    sample, rate = sf.read(test_set / "mix" / "u1.wav", dtype="float32")
    sample[100] += 1e-3  # one sample of one mixture
    sf.write(test_set / "mix" / "u1.wav", sample, rate, subtype="FLOAT")
    text, _ = evaluate(capsys, retrained, test_set, tmp_path / "c.json")
    assert runs[3:] == ["noisereduce", "test-enh"] and "reused" not in text


def test_a_renamed_model_keeps_its_scores_and_a_changed_setting_runs_again(
    capsys: pytest.CaptureFixture[str], enh_model_dir: Path, test_set: Path, tmp_path: Path, runs: list[str]
) -> None:
    _, first = evaluate(capsys, enh_model_dir, test_set, tmp_path / "a.json")
    renamed = shutil.copytree(enh_model_dir, tmp_path / "renamed")  # a candidate shipped under the default's name
    config = json.loads((renamed / "config.json").read_text())
    (renamed / "config.json").write_text(json.dumps({**config, "name": "shipped-name"}, indent=4))
    text, second = evaluate(capsys, renamed, test_set, tmp_path / "b.json")
    assert (
        runs == ["noisereduce", "test-enh"]
        and "reused the cached scores of unprocessed, noisereduce, shipped-name" in text
    )
    assert second["means"]["shipped-name"] == first["means"]["test-enh"]
    inference = {**config["inference"], "chunk_seconds": 0.4}  # anything but the name is still part of the key
    (renamed / "config.json").write_text(json.dumps({**config, "name": "shipped-name", "inference": inference}))
    evaluate(capsys, renamed, test_set, tmp_path / "c.json")
    assert runs == ["noisereduce", "test-enh", "shipped-name"]


def test_a_damaged_entry_is_run_again_and_replaced(
    capsys: pytest.CaptureFixture[str], enh_model_dir: Path, test_set: Path, tmp_path: Path, runs: list[str]
) -> None:
    _, first = evaluate(capsys, enh_model_dir, test_set, tmp_path / "a.json")
    entries = sorted((cache_root() / "scores").rglob("*.json"))
    assert len(entries) == 3  # unprocessed, noisereduce, the model
    for entry in entries:
        entry.write_text(entry.read_text()[:40])  # cut short, as by a full disk
    _, second = evaluate(capsys, enh_model_dir, test_set, tmp_path / "b.json")
    assert runs == ["noisereduce", "test-enh"] * 2 and second["means"] == first["means"]
    assert all(json.loads(e.read_text())["rows"] for e in entries)  # whole again


def test_the_key_names_what_decides_a_score(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = ScoreCache(tmp_path)
    system = {"kind": "baseline", "name": "noisereduce", "package": "noisereduce", "version": "3.0.3"}
    key = cache.key(system, "ab" * 32, ["si_sdr"], "cpu")
    assert {"sepkit_source", "packages", "test_set", "metrics", "device"} <= set(key)
    cache.store(key, {"si_sdr": 1.0}, {"u0": {"si_sdr": 1.0}})
    assert cache.load(key) is not None
    for other in (
        cache.key({**system, "version": "3.0.4"}, "ab" * 32, ["si_sdr"], "cpu"),
        cache.key(system, "cd" * 32, ["si_sdr"], "cpu"),
        cache.key(system, "ab" * 32, ["si_sdr", "pesq"], "cpu"),
        cache.key(system, "ab" * 32, ["si_sdr"], "cuda"),
    ):
        assert cache.load(other) is None
    monkeypatch.setattr("sepkit.evaluation.score_cache.package_version", lambda name: "0.0.0")
    assert cache.load(cache.key(system, "ab" * 32, ["si_sdr"], "cpu")) is None  # another pesq, torch, ...
