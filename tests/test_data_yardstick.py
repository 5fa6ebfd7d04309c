"""The out-of-domain yardstick: held out from training, labelled, and written with every promised slice.

CI has no time for the real downloads, so the sets are written from a small synthesised pool
that has what the real one has: wideband and 8 kHz speakers, English and not, short and long
utterances, every recorded noise family and a room impulse response.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from data_fixtures import white, write
from sepkit.data.demo import catalog as demo
from sepkit.data.yardstick import YardstickOptions, held_out_violations, write_yardstick
from sepkit.data.yardstick import catalog
from sepkit.data.yardstick.plan import SNR_BANDS, EnhancementPlan, SeparationPlan, allocate, counts, plan_enhancement
from sepkit.data.yardstick.profile import TYPICAL, profile_of
from sepkit.errors import OutputError
from sepkit.metrics.fingerprint import folder_digest
from sepkit_fixtures import speechlike

pytestmark = pytest.mark.usefixtures("one_thread")


def test_no_yardstick_package_is_used_for_training() -> None:
    training = {p for (kind, split), pkgs in demo.split_packages().items() if split in ("train", "dev") for p in pkgs}
    assert training and not training & set(catalog.packages())
    assert held_out_violations() == []
    # the check names a training package if a catalogue edit ever slips one in
    leaked = (*catalog.SOURCES, dataclasses.replace(catalog.SPEECH[0], package="festvox-ru"))
    assert held_out_violations(leaked) == ["festvox-ru (speech/train)"]
    # the catalogue's test speech is allowed; the rest of the yardstick's speech is in no demo split at all
    demo_packages = {s.package for s in demo.SOURCES}
    outside = {s.package for s in catalog.SPEECH} - demo_packages
    assert {"pocketsphinx-testdata", "alsa-utils", "codec2-examples", "asterisk-prompt-fr-armelle"} <= outside


def test_labelling_rules_on_real_paths() -> None:
    assert catalog.tuxpaint_lang("animals/birds/duck_desc_pt_BR.ogg") == "pt_BR"
    assert catalog.tuxpaint_lang("space/planets/3_earth_desc_bg.ogg") == "bg"  # not the digit "3"
    assert catalog.tuxpaint_lang("animals/marsupials/koala_desc.ogg") == "en"
    assert catalog.tuxpaint_lang("symbols/math/7_zh_tw.ogg") == "zh_tw"
    assert catalog.tuxpaint_lang("symbols/math/7.ogg") == "en"
    assert catalog.tuxpaint_voice("filled/lowercase/a_filled_en_GB.ogg") == "tuxpaint-en_GB"
    assert catalog.tuxpaint_family("animals/birds/owl.ogg") == "environmental"
    assert catalog.tuxpaint_family("animals/birds/owl_desc_fr.ogg") is None  # speech, not noise
    assert catalog.tuxpaint_family("household/Washing-machine.ogg") == "machine"
    assert catalog.tuxpaint_family("symbols/faces/happy.ogg") is None  # a voice
    src = {s.name: s for s in catalog.SOURCES}
    assert src["redeclipse-ambience"].family_of("distant_cars.ogg") == "street"
    assert src["redeclipse-ambience"].family_of("teleport.ogg") is None  # game effects are left out
    assert src["asterisk-fr-armelle"].selects("agent-pass.gsm") and not src["asterisk-fr-armelle"].selects("beep.gsm")
    assert src["codec2-8k"].rate == 8000 and src["pocketsphinx-librivox"].rate == 16000
    assert {s.family_of("x.ogg") for s in catalog.NOISE if s.kind == "music"} == {"music"}


def test_counts_are_exact_and_every_slice_is_planned() -> None:
    assert counts({"a": 0.28, "b": 0.28, "c": 0.28, "d": 0.16}, 250) == {"a": 70, "b": 70, "c": 70, "d": 40}
    assert sum(counts({"x": 1, "y": 1, "z": 1}, 10).values()) == 10
    rng = np.random.default_rng(0)
    assert sorted(allocate({"a": 0.5, "b": 0.5}, 6, rng)) == ["a", "a", "a", "b", "b", "b"]
    rows = plan_enhancement(EnhancementPlan(items=50), np.random.default_rng(1))
    assert all(r["length"] == ">= 1 s" for r in rows if r["reverb"] == "real RIR")  # no reverb on short clips
    assert sum(r["clip"] == "8 kHz, < 1 s" for r in rows) == 4


def _speaker(root: Path, name: str, lang: str, rate: int, lengths: list[float], seed: int) -> list[dict]:
    out = []
    for j, seconds in enumerate(lengths):
        audio = speechlike(seconds, rate, seed * 10 + j)[0]
        path = write(root / "speech" / name / f"u{j}.flac", audio, rate)
        out.append(
            {
                "path": str(path),
                "duration": round(audio.size / rate, 4),
                "sample_rate": rate,
                "speaker": name,
                "split": "yardstick",
                "kind": "speech",
                "source": name,
                "package": f"pkg-{name}",
                "original": f"u{j}.wav",
                "lang": lang,
                "est_snr_db": 40.0,
            }
        )
    return out


@pytest.fixture(scope="module")
def tiny_pool(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """A stand-in pool: 8 wideband speakers (4 English), 2 at 8 kHz, 4 noise families, a music source, one RIR."""
    root = tmp_path_factory.mktemp("pool")
    entries = []
    for k in range(8):
        entries += _speaker(root, f"wide{k}", "en" if k < 4 else "xx", 16000, [0.6, 0.8, 1.3, 2.0], k)
    for k in range(2):
        entries += _speaker(root, f"narrow{k}", "en", 8000, [0.7, 1.5], 20 + k)
    families = {"street": 0.05, "environmental": 0.1, "machine": 0.2, "music": 0.1}
    for i, (family, level) in enumerate(families.items()):
        for j, seconds in enumerate((0.5, 3.0)):  # a short file is looped
            path = write(root / "noise" / f"{family}{j}.flac", white(seconds, 16000, 100 * i + j, level), 16000)
            entries.append(
                {
                    "path": str(path),
                    "duration": seconds,
                    "sample_rate": 16000,
                    "speaker": None,
                    "split": "yardstick",
                    "kind": "music" if family == "music" else "noise",
                    "source": f"{family}-src{j}",
                    "package": f"pkg-{family}",
                    "original": f"{family}{j}.ogg",
                    "family": family,
                }
            )
    rng = np.random.default_rng(7)
    rir = rng.standard_normal(4000) * np.exp(-np.arange(4000) / 800) * 0.3
    rir[:40], rir[40] = 0.0, 1.0
    path = write(root / "rir" / "room.wav", rir.astype(np.float32), 16000, "FLOAT")
    entries.append(
        {
            "path": str(path),
            "duration": 0.25,
            "sample_rate": 16000,
            "speaker": None,
            "split": "test",
            "kind": "rir",
            "source": "rir",
            "package": "pkg-rir",
            "original": "room.wav",
            "real": True,
        }
    )
    return entries


def _rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines()]


def _rms_db(x: np.ndarray) -> float:
    return 10 * math.log10(float(np.mean(x.astype(np.float64) ** 2)))


def _fake_dnsmos(path: str) -> dict[str, float]:
    """A stand-in for DNSMOS: a reference whose RMS is above -24 dBFS is "clean" (BAK 4), any other not (BAK 2)."""
    x, _ = sf.read(path, dtype="float32")
    loud = _rms_db(x) > -24
    return {"dnsmos_ovrl": 3.0, "dnsmos_sig": 3.5, "dnsmos_bak": 4.0 if loud else 2.0, "dnsmos_p808": 3.5}


def test_reference_slice_follows_the_ratings_and_is_rated_once(tiny_pool: list[dict], tmp_path: Path) -> None:
    opts = YardstickOptions(out=tmp_path, enhancement=EnhancementPlan(items=12), separation=SeparationPlan(items=2))
    rated: list[str] = []

    def rate(path: str) -> dict[str, float]:
        rated.append(path)
        return _fake_dnsmos(path)

    sets = write_yardstick(tmp_path / "ys", tiny_pool, opts, "cmd", rate=rate)
    assert len(rated) == 12 and all("/s1/" in p for p in rated)
    for r in _rows(sets["enh"]):
        s1, _ = sf.read(sets["enh"] / r["sources"][0], dtype="float32")
        assert r["slices"]["reference"] == ("clean" if _rms_db(s1) > -24 else "own noise")
        assert r["reference_dnsmos"]["dnsmos_bak"] in (2.0, 4.0)
    write_yardstick(tmp_path / "ys", tiny_pool, opts, "cmd", rate=rate)  # unchanged set: nothing rated again
    assert len(rated) == 12
    assert "reference" not in _rows(sets["sep2"])[0]["slices"]


def test_builder_writes_both_sets_with_every_promised_slice(tiny_pool: list[dict], tmp_path: Path) -> None:
    opts = YardstickOptions(
        out=tmp_path / "ys", enhancement=EnhancementPlan(items=40), separation=SeparationPlan(items=8)
    )
    sets = write_yardstick(tmp_path / "ys", tiny_pool, opts, "sepkit data yardstick ys", rate=_fake_dnsmos)
    enh = _rows(sets["enh"])
    assert len(enh) == 40
    values: dict[str, set] = defaultdict(set)
    for r in enh:
        for key, value in r["slices"].items():
            values[key].add(value)
    assert set(values["snr"]) == set(SNR_BANDS)
    assert values["noise"] == {"street", "babble", "environmental", "music", "machine"}
    assert values["bandwidth"] == {"16 kHz", "8 kHz"} and values["length"] == {"< 1 s", ">= 1 s"}
    assert values["clip"] >= {"8 kHz, < 1 s"} and values["level"] == {"-40 dBFS", "-32..-18 dBFS"}
    assert values["reverb"] == {"dry", "real RIR"} and values["language"] == {"English", "other"}
    assert values["reference"] == {"clean", "own noise"}
    assert values["profile"] == {TYPICAL, "other"}
    for r in enh:
        sl = r["slices"]
        typical = (
            sl["language"] == "English"
            and sl["reference"] == "clean"
            and sl["snr"] in ("-5..0 dB", "0..5 dB", "5..10 dB")
            and sl["clip"] == "16 kHz, >= 1 s"
            and sl["reverb"] == "dry"
            and sl["level"] == "-32..-18 dBFS"
        )
        assert sl["profile"] == ("clean English, -5..10 dB, dry" if typical else "other")
    assert "profile" not in _rows(sets["sep2"])[0]["slices"]
    readme = (tmp_path / "ys" / "README.md").read_text()
    for name, ref in (("enh", sets["enh"] / "s1"), ("sep2", sets["sep2"])):  # what sepkit evaluate prints
        assert f"Audio digest `{folder_digest(sets[name] / 'mix', ref)[:12]}`" in readme
    for r in enh:
        mix, rate = sf.read(sets["enh"] / r["mixture"], dtype="float32")
        s1, rate_s1 = sf.read(sets["enh"] / r["sources"][0], dtype="float32")
        noise, _ = sf.read(sets["enh"] / r["noise"], dtype="float32")
        assert rate == rate_s1 == r["sample_rate"] == (8000 if r["slices"]["bandwidth"] == "8 kHz" else 16000)
        assert mix.shape == s1.shape == noise.shape
        assert (mix.size / rate < 1.0) == (r["slices"]["length"] == "< 1 s")
        lo, hi = SNR_BANDS[r["slices"]["snr"]]
        measured = _rms_db(mix - noise) - _rms_db(noise)  # the speech as heard in the mixture against the noise
        assert lo - 0.01 <= measured <= hi + 0.01 and measured == pytest.approx(r["snr_db"], abs=0.01)
        assert max(np.abs(mix).max(), np.abs(s1).max(), np.abs(noise).max()) <= 0.99
        if r["slices"]["level"] == "-40 dBFS":
            assert _rms_db(mix) == pytest.approx(-40.0, abs=0.05)
        if r["slices"]["noise"] == "babble":
            assert 3 <= len(r["noise_from"]) <= 8 and r["speaker"] not in r["noise_from"]
        if r["slices"]["reverb"] == "dry":
            assert np.allclose(mix - noise, s1, atol=1e-5)  # dry: the target is the speech in the mixture
        if r["speaker"].startswith("narrow"):  # speech recorded at 8 kHz only in 8 kHz items
            assert r["sample_rate"] == 8000

    sep = _rows(sets["sep2"])
    assert len(sep) == 8 and {r["slices"]["overlap"] for r in sep} == {"full", "partial"}
    for r in sep:
        mix, _ = sf.read(sets["sep2"] / r["mixture"], dtype="float32")
        s1, s2 = (sf.read(sets["sep2"] / p, dtype="float32")[0] for p in r["sources"])
        noise = sf.read(sets["sep2"] / r["noise"], dtype="float32")[0] if r["noise"] else 0.0
        assert r["speakers"][0] != r["speakers"][1]
        assert np.allclose(mix, s1 + s2 + noise, atol=1e-5)
        assert -5.0 <= r["gain_db"] <= 5.0 and (r["noise"] is None) == (r["slices"]["noise"] == "none")
        (a0, a1), (b0, b1) = (np.flatnonzero(s)[[0, -1]] for s in (s1, s2))
        assert max(a0, b0) < min(a1, b1)  # they overlap
        nested = (a0 <= b0 and b1 <= a1) or (b0 <= a0 and a1 <= b1)
        assert nested == (r["slices"]["overlap"] == "full")
    readme = (tmp_path / "ys" / "README.md").read_text()
    assert "sepkit data yardstick ys" in readme and "| snr | -5..0 dB |" in readme and "wide0" in readme


def test_builder_is_reproducible_and_never_touches_foreign_folders(tiny_pool: list[dict], tmp_path: Path) -> None:
    opts = YardstickOptions(out=tmp_path, enhancement=EnhancementPlan(items=6), separation=SeparationPlan(items=3))
    a = write_yardstick(tmp_path / "a", tiny_pool, opts, "cmd", rate=_fake_dnsmos)
    b = write_yardstick(tmp_path / "b", tiny_pool, opts, "cmd", rate=_fake_dnsmos)
    for name in ("enh", "sep2"):
        assert (a[name] / "items.jsonl").read_text() == (b[name] / "items.jsonl").read_text()
        for f in sorted((a[name] / "mix").iterdir()):
            assert f.read_bytes() == (b[name] / "mix" / f.name).read_bytes()
    stamp = (a["enh"] / "mix" / "0000.wav").stat().st_mtime_ns
    write_yardstick(tmp_path / "a", tiny_pool, opts, "cmd", rate=_fake_dnsmos)  # unchanged: kept as it is
    assert (a["enh"] / "mix" / "0000.wav").stat().st_mtime_ns == stamp
    other = write_yardstick(tmp_path / "c", tiny_pool, dataclasses.replace(opts, seed=1), "cmd", rate=_fake_dnsmos)
    assert (other["enh"] / "items.jsonl").read_text() != (a["enh"] / "items.jsonl").read_text()
    (tmp_path / "mine" / "enh").mkdir(parents=True)
    (tmp_path / "mine" / "enh" / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not written by"):
        write_yardstick(tmp_path / "mine", tiny_pool, opts, "cmd", rate=_fake_dnsmos)
    assert (tmp_path / "mine" / "enh" / "notes.txt").read_text() == "keep me"


def test_cli_refuses_empty_sets_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from sepkit.cli.main import main

    code = main(["data", "yardstick", str(tmp_path / "ys"), "--enh-items", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "--enh-items" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "ys").exists()  # nothing downloaded or written


def test_profile_needs_every_typical_label() -> None:
    typical = {
        "snr": "5..10 dB",
        "language": "English",
        "reference": "clean",
        "bandwidth": "16 kHz",
        "length": ">= 1 s",
        "reverb": "dry",
        "level": "-32..-18 dBFS",
        "noise": "music",
    }
    assert profile_of(typical) == TYPICAL
    for key, other in [
        ("snr", "10..20 dB"),
        ("language", "other"),
        ("reference", "own noise"),
        ("bandwidth", "8 kHz"),
        ("length", "< 1 s"),
        ("reverb", "real RIR"),
        ("level", "-40 dBFS"),
    ]:
        assert profile_of({**typical, key: other}) == "other", key
    assert profile_of({k: v for k, v in typical.items() if k != "reference"}) == "other"  # unrated: not typical
