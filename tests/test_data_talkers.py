"""Synthetic talkers (`sepkit data talkers`): one steady voice per talker, train-only synthetic entries."""

from __future__ import annotations

import json
import shutil
import struct
from collections import defaultdict
from pathlib import Path

import pytest
import soundfile as sf

from sepkit.data.demo.build import build_talkers
from sepkit.data.demo.synthetic import LOCALE_DIR, translated_sentences, voices
from sepkit.errors import ConfigError
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


def _write_mo(path: Path, messages: dict[str, str]) -> None:
    """A minimal GNU gettext catalogue (.mo): header entry plus ``messages``, no hash table."""
    catalog = {"": "Content-Type: text/plain; charset=UTF-8\n", **messages}
    keys = sorted(catalog)
    ids = [k.encode() for k in keys]
    strs = [catalog[k].encode() for k in keys]
    n = len(keys)
    start = 7 * 4 + 16 * n  # header, then the two tables of (length, offset) pairs
    blob, id_table, str_table = b"", [], []
    for data, table in [(d, id_table) for d in ids] + [(d, str_table) for d in strs]:
        table.append((len(data), start + len(blob)))
        blob += data + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, n, 7 * 4, 7 * 4 + 8 * n, 0, start)
    pairs = b"".join(struct.pack("<2I", *p) for p in id_table + str_table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + pairs + blob)


def test_translated_sentences_keep_whole_readable_sentences_only(tmp_path: Path) -> None:
    keep = "Die Datei konnte nicht geöffnet werden, bitte erneut versuchen."
    _write_mo(
        tmp_path / "de" / "LC_MESSAGES" / "app.mo",
        {
            "a": keep,
            "b": "Die Datei %s konnte nicht geöffnet werden, bitte erneut versuchen.",  # a placeholder
            "c": "Es wurden 12 Dateien gefunden, die nicht gelesen werden konnten.",  # digits
            "d": "Verwenden Sie --help, um weitere Informationen zu erhalten, bitte.",  # an option
            "e": "Zu kurz.",
            "f": "Ein Satz ohne Punkt am Ende, der nicht vorgelesen werden sollte",
        },
    )
    assert translated_sentences("de", locale_dir=tmp_path) == [keep]
    with pytest.raises(ConfigError, match="no translated sentences"):
        translated_sentences("fr", locale_dir=tmp_path)


@needs_espeak
def test_voices_of_a_language_are_its_own_and_an_unknown_language_is_refused() -> None:
    german = voices("de")
    assert german and all(v.split("+")[0] == "de" for v in german)
    assert all(v.split("+")[0].split("-")[0] == "fr" for v in voices("fr"))  # fr-fr, fr-be, fr-ch
    with pytest.raises(ConfigError, match="no voice for language 'qq'"):
        voices("qq")


@needs_espeak
@pytest.mark.skipif(not any(LOCALE_DIR.glob("de/LC_MESSAGES/*.mo")), reason="no German message catalogues")
def test_talkers_in_other_languages_read_their_own_language(tmp_path: Path) -> None:
    path = build_talkers(tmp_path / "t", talkers=4, per_talker=1, seed=0, cache=tmp_path / "c", languages=["de"])
    entries = [json.loads(line) for line in path.open()]
    german = set(translated_sentences("de"))
    assert entries and all(e["lang"] == "de" and e["text"] in german for e in entries)
    assert all(e["speaker"].startswith("espeak-de+") for e in entries)


@needs_espeak
def test_cli_refuses_an_unknown_language_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "data", "talkers", tmp_path / "t", "--talkers", "1", "--languages", "en,qq")
    assert code == 2 and "no voice for language 'qq'" in err and "Traceback" not in err
    assert not (tmp_path / "t").exists()
