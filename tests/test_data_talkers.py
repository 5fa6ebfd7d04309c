"""Synthetic talkers (`sepkit data talkers`): one steady voice per talker, train-only synthetic entries."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import soundfile as sf

from sepkit.data.demo.build import build_talkers
from sepkit_fixtures import run_cli

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@needs_espeak
def test_each_talker_keeps_one_voice_speed_and_pitch(tmp_path: Path) -> None:
    path = build_talkers(tmp_path / "talkers", talkers=3, per_talker=2, seed=5, cache=tmp_path / "cache")
    entries = [json.loads(line) for line in path.open()]
    by_talker: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        assert e["split"] == "train" and e["synthetic"] is True and e["kind"] == "speech"
        assert sf.info(e["path"]).samplerate == 16000 and e["duration"] > 0.5
        by_talker[e["speaker"]].add(Path(e["path"]).stem.split("_")[1])  # talker_<t>_<u>: the talker index
    assert len(by_talker) == 3  # three distinct voice/speed/pitch triples ...
    assert all(len(indices) == 1 for indices in by_talker.values())  # ... each one talker's, all its utterances
    assert all(name.rsplit("-", 2)[1].startswith("s") and name.rsplit("-", 2)[2].startswith("p") for name in by_talker)


@needs_espeak
def test_the_same_seed_gives_the_same_talkers(tmp_path: Path) -> None:
    a = build_talkers(tmp_path / "a", talkers=2, per_talker=1, seed=3, cache=tmp_path / "ca")
    b = build_talkers(tmp_path / "b", talkers=2, per_talker=1, seed=3, cache=tmp_path / "cb")
    c = build_talkers(tmp_path / "c", talkers=2, per_talker=1, seed=4, cache=tmp_path / "cc")
    speakers = [[json.loads(line)["speaker"] for line in p.open()] for p in (a, b, c)]
    assert speakers[0] == speakers[1] != speakers[2]


def test_cli_refuses_zero_talkers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "data", "talkers", tmp_path / "t", "--talkers", "0")
    assert code == 2 and "--talkers and --per-talker must be at least 1" in err
    assert not (tmp_path / "t").exists()


@needs_espeak
def test_a_different_draw_never_reuses_cached_audio(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    build_talkers(tmp_path / "one", talkers=2, per_talker=1, seed=3, cache=cache)
    shared = build_talkers(tmp_path / "two", talkers=2, per_talker=2, seed=3, cache=cache)
    fresh = build_talkers(tmp_path / "three", talkers=2, per_talker=2, seed=3, cache=tmp_path / "empty")
    texts = [[(json.loads(line)["speaker"], json.loads(line)["text"]) for line in p.open()] for p in (shared, fresh)]
    durations = [[json.loads(line)["duration"] for line in p.open()] for p in (shared, fresh)]
    assert texts[0] == texts[1] and durations[0] == durations[1]  # the same audio as a build from nothing


def test_without_espeak_the_cli_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on it
    code, _, err = run_cli(capsys, "data", "talkers", tmp_path / "t", "--talkers", "1")
    assert code == 2 and "espeak-ng" in err and "Traceback" not in err
    assert not (tmp_path / "t").exists()
