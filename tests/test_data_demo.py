"""The demo builder's pure logic: honest package splits, speaker rules, names, decoding steps (no downloads)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data_fixtures import tone, white, write
from sepkit.data.demo import catalog, fetch, readme
from sepkit.data.demo.build import _load_state, _save_state
from sepkit.data.demo.decode import DecodeJob, cut_points, estimate_snr_db, run_job, trim_rir, trim_silence
from sepkit.data.demo.rirs import RirJob, room_parameters, simulate
from sepkit.errors import ConfigError


def test_every_package_is_in_exactly_one_split() -> None:
    splits = defaultdict(set)
    for s in catalog.SOURCES:
        splits[s.package].add(s.split)
    assert all(len(v) == 1 for v in splits.values()), {k: v for k, v in splits.items() if len(v) > 1}
    by = catalog.split_packages()
    assert {"tuxpaint-stamps-default", "asterisk-core-sounds-ru-g722"} == by[("speech", "test")]
    assert by[("speech", "dev")] == {"fillets-ng-data-nl", "kajongg"}
    assert by[("noise", "test")] == {"redeclipse-data", "supertuxkart-data"}
    assert all(s.split == "test" for s in catalog.SOURCES if s.real_rir)


def test_speaker_rules_on_real_paths() -> None:
    assert catalog.asterisk_speaker("en_US_f_Allison/digits/1.g722") == "asterisk-allison"
    assert catalog.asterisk_speaker("es_MX_f_Allison/vm-intro.g722") == "asterisk-allison"  # the same voice
    assert catalog.fillets_speaker("city/cs/vit-m-hlava.ogg") == "fillets-cs-m"
    assert catalog.fillets_speaker("ending/cs/z-c-1.ogg") == "fillets-cs-ending-c"
    assert catalog.fillets_speaker("share/borejokes/nl/v-frog.ogg") == "fillets-nl-v"
    assert catalog.tuxpaint_speaker("animals/birds/duck_desc_pt_BR.ogg") == "tuxpaint-pt_BR"
    assert catalog.kajongg_speaker("de/male1/s3.ogg") == "kajongg-de-male1"
    assert catalog.kajongg_speaker("female2/c8.ogg") == "kajongg-en-female2"
    assert catalog.first_folder_speaker("ktuberling")("sr@latin/hat.ogg") == "ktuberling-sr"


def test_patterns_select_the_intended_files() -> None:
    src = {s.name: s for s in catalog.SOURCES}
    assert src["asterisk-en"].selects("en_US_f_Allison/digits/1.g722")
    assert not src["asterisk-en"].selects("en_US_f_Allison/silence/1.g722")
    assert src["tuxpaint-desc"].selects("food/apple_desc_fr.ogg") and not src["tuxpaint-desc"].selects("food/apple.ogg")
    assert src["fillets-cs"].selects("city/cs/vit-m-hlava.ogg") and not src["fillets-cs"].selects("city/nl/x-m-a.ogg")
    assert src["sonic-pi-ambient"].selects("ambi_drone.flac") and not src["sonic-pi-ambient"].selects("bd_808.flac")


def test_output_names_are_flat_and_safe() -> None:
    src = next(s for s in catalog.SOURCES if s.name == "fillets-cs")
    name = catalog.output_name(src, "city/cs/vit-m-hlava.ogg")
    assert name == "audio/speech/train/fillets-cs/city__cs__vit-m-hlava.flac"
    assert catalog.output_name(src, "a b/ü.ogg", piece=3).endswith("/a_b__ü_p03.flac".replace("ü", "_"))
    rir = next(s for s in catalog.SOURCES if s.kind == "rir")
    assert catalog.output_name(rir, "greathall.wav").endswith("greathall.wav")


def test_cut_points_fall_in_quiet_frames() -> None:
    sr = 16000
    x = np.concatenate([tone(9.0, sr), np.zeros(int(0.3 * sr), np.float32), tone(9.0, sr)])
    bounds = cut_points(x, sr, max_seconds=10.0)
    assert len(bounds) == 2 and bounds[0][0] == 0 and bounds[-1][1] == x.size
    assert 9.0 * sr <= bounds[0][1] <= 9.3 * sr  # the cut moved into the pause
    assert cut_points(x[:sr], sr, 10.0) == [(0, sr)]


def test_trim_and_snr_estimate() -> None:
    sr = 16000
    x = np.concatenate([np.zeros(sr, np.float32), tone(1.0, sr, noise=0.0), np.zeros(sr, np.float32)])
    y = trim_silence(x, sr)
    assert 1.0 * sr <= y.size <= 1.25 * sr
    noisy = tone(2.0, sr, noise=0.05) * np.repeat([1.0, 0.0], sr).astype(np.float32) + white(2.0, sr, level=0.01)
    assert 15 < estimate_snr_db(noisy, sr) < 40
    rir = np.zeros(sr, np.float32)
    rir[500] = 1.0
    assert trim_rir(rir, sr, 0.5).size == sr // 2 and trim_rir(rir, sr, 0.5)[40] == 1.0


def test_decode_job_trims_cuts_and_skips(tmp_path: Path) -> None:
    sr = 22050
    long_speech = write(
        tmp_path / "long.ogg", np.concatenate([tone(8.0, sr), np.zeros(sr // 4, np.float32), tone(8.0, sr)]), sr
    )
    job = DecodeJob(str(long_speech), str(tmp_path / "out"), "long", "flac", "speech", 16000, 0.4, 10.0)
    pieces = run_job(job)
    assert [p["piece"] for p in pieces] == [0, 1] and all(sf.info(p["path"]).samplerate == 16000 for p in pieces)
    assert 15.5 < sum(p["duration"] for p in pieces) < 16.5 and "est_snr_db" in pieces[0]
    silent = write(tmp_path / "silent.wav", np.zeros(sr, np.float32), sr)
    assert run_job(DecodeJob(str(silent), str(tmp_path), "s", "flac", "noise", 16000, 1.0, 30.0)) == "silent"
    narrow = write(tmp_path / "narrow.wav", tone(1.0, 8000), 8000)
    assert "below 16000" in run_job(
        DecodeJob(str(narrow), str(tmp_path), "n", "flac", "speech", 16000, 0.4, 15.0, min_source_rate=16000)
    )
    short = write(tmp_path / "short.wav", white(0.5), 16000)
    assert "shorter than 1.0" in run_job(DecodeJob(str(short), str(tmp_path), "x", "flac", "noise", 16000, 1.0, 30.0))


def test_simulated_rooms_are_reproducible_and_split_apart(tmp_path: Path) -> None:
    a = room_parameters(0, "train", 5)
    assert a == room_parameters(0, "train", 5) and a != room_parameters(0, "test", 5)
    assert 0.2 <= a["rt60_target"] <= 0.9 and 0.5 <= a["distance"] <= 3.0
    small = next(i for i in range(50) if room_parameters(0, "dev", i)["rt60_target"] < 0.3)
    row = simulate(RirJob(str(tmp_path / "r.wav"), "dev", small))
    data, sr = sf.read(row["path"])
    assert sr == 16000 and np.abs(data).max() == pytest.approx(1.0) and row["rt60"] > 0.05


def test_summary_and_table() -> None:
    entries = [
        {"kind": "speech", "split": "train", "duration": 1800.0, "speaker": "a", "source": "x", "package": "p"},
        {"kind": "speech", "split": "train", "duration": 1800.0, "speaker": "b", "source": "y", "package": "q"},
        {
            "kind": "speech",
            "split": "train",
            "duration": 360.0,
            "speaker": "e1",
            "source": "espeak-ng",
            "package": "espeak-ng-data",
            "synthetic": True,
        },
        {"kind": "noise", "split": "test", "duration": 720.0, "speaker": None, "source": "z", "package": "r"},
    ]
    summary = readme.summarize(entries)
    first = summary["splits"][0]
    assert [first[k] for k in ("kind", "split", "files", "hours", "speakers")] == ["speech", "train", 2, 1.0, 2]
    assert summary["splits"][1]["kind"] == "speech (synthetic)" and summary["splits"][2]["hours"] == 0.2
    text = readme.table(summary)
    assert "speech             train        2    1.00         2  x, y" in text


def test_state_is_reused_only_for_the_same_config(tmp_path: Path) -> None:
    f = write(tmp_path / "a.wav", tone(0.5))
    _save_state(tmp_path, "src", {"hours_limit": None}, [{"path": str(f)}])
    assert _load_state(tmp_path, "src", {"hours_limit": None}) == [{"path": str(f)}]
    assert _load_state(tmp_path, "src", {"hours_limit": 1.0}) is None
    f.unlink()
    assert _load_state(tmp_path, "src", {"hours_limit": None}) is None  # its files are gone: redo


def test_list_files_and_missing_tools(tmp_path: Path) -> None:
    src = next(s for s in catalog.SOURCES if s.name == "asterisk-fr")
    base = tmp_path / "pkg" / src.prefix
    for rel in ("fr_CA_f_June/a.g722", "fr_CA_f_June/silence/1.g722", "fr_CA_f_June/readme.txt"):
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / rel).write_bytes(b"x")
    assert fetch.list_files(tmp_path / "pkg", src) == ["fr_CA_f_June/a.g722"]
    with pytest.raises(ConfigError, match="folder missing from package"):
        fetch.list_files(tmp_path / "nothing", src)
    with pytest.raises(ConfigError, match=r"needed tool\(s\) not found: no-such-tool-xyz; .*apt-get install"):
        fetch.ensure_tools(["no-such-tool-xyz"], install=False)
