"""Per-slice scores: means and paired differences per labelled slice, in the report and through ``sepkit evaluate``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepkit.cli.main import main
from sepkit.errors import ManifestError
from sepkit.evaluation.compare import Evaluation
from sepkit.evaluation.slices import find_slices, read_slices, slice_report, slice_tables
from sepkit_fixtures import speechlike

SR = 16000


def _evaluation() -> Evaluation:
    """Four files: the model gains 2 dB on the two 'low' ones and loses 1 dB on the two 'high' ones."""
    base = {"a": 0.0, "b": 1.0, "c": 10.0, "d": 12.0}
    gain = {"a": 2.0, "b": 2.0, "c": -1.0, "d": -1.0}
    rows = {
        "unprocessed": {f: {"si_sdr": v, "si_sdri": 0.0} for f, v in base.items()},
        "m": {f: {"si_sdr": v + gain[f], "si_sdri": gain[f]} for f, v in base.items()},
    }
    means = {
        s: {c: float(np.mean([r[c] for r in files.values()])) for c in ("si_sdr", "si_sdri")}
        for s, files in rows.items()
    }
    return Evaluation("m", "enhance", 4, ["si_sdr"], means=means, rows=rows)


LABELS = {
    "a": {"snr": "-5..0 dB", "noise": "babble"},
    "b": {"snr": "-5..0 dB", "noise": "music"},
    "c": {"snr": "10..20 dB", "noise": "babble"},
    "d": {"snr": "10..20 dB", "noise": "music"},
}


def test_report_groups_files_by_every_slice() -> None:
    report = slice_report(_evaluation(), LABELS)
    assert [(r["slice"], r["value"], r["files"]) for r in report] == [
        ("snr", "-5..0 dB", 2),
        ("snr", "10..20 dB", 2),
        ("noise", "babble", 2),
        ("noise", "music", 2),
    ]
    low, high, babble = report[0], report[1], report[2]
    assert low["means"]["m"]["si_sdr"] == pytest.approx(2.5) and low["means"]["unprocessed"]["si_sdr"] == 0.5
    assert low["paired"]["unprocessed"]["si_sdr"]["mean"] == pytest.approx(2.0)
    assert low["paired"]["unprocessed"]["si_sdr"]["wins"] == 1.0
    assert high["paired"]["unprocessed"]["si_sdr"]["mean"] == pytest.approx(-1.0)
    assert high["paired"]["unprocessed"]["si_sdr"]["wins"] == 0.0
    assert babble["paired"]["unprocessed"]["si_sdr"]["mean"] == pytest.approx(0.5)  # files a (+2) and c (-1)
    assert set(low["paired"]["unprocessed"]) == {"si_sdr"}  # si_sdri differs exactly as si_sdr does
    text = slice_tables(report, "m")
    assert "Slice 'snr': means" in text and "| 10..20 dB | unprocessed | -1.00 [-1.00, -1.00] 0 % |" in text


def test_unlabelled_items_and_bad_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="scored but not in the slices file"):
        slice_report(_evaluation(), {k: v for k, v in LABELS.items() if k != "d"})
    bad = tmp_path / "items.jsonl"
    bad.write_text('{"id": "a", "slices": {"snr": "low"}}\n{"id": "b"\n')
    with pytest.raises(ManifestError, match=r"items.jsonl:2: not JSON"):
        read_slices(bad)
    bad.write_text('{"id": "a", "slices": ["low"]}\n')
    with pytest.raises(ManifestError, match=r"items.jsonl:1: needs an 'id' string and a 'slices' object"):
        read_slices(bad)
    with pytest.raises(ManifestError, match="no such slices file"):
        read_slices(tmp_path / "missing.jsonl")


@pytest.fixture
def sliced_set(tmp_path: Path) -> Path:
    """mix/ and s1/ for four noisy utterances, half of them noisier, and items.jsonl labelling them."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(4):
        clean = speechlike(1.5, SR, i)[0]
        noise = (0.2 if i < 2 else 0.02) * rng.standard_normal(clean.shape).astype(np.float32)
        for folder, audio in (("s1", clean), ("mix", clean + noise)):
            (tmp_path / "set" / folder).mkdir(parents=True, exist_ok=True)
            sf.write(tmp_path / "set" / folder / f"{i:04d}.wav", audio, SR, subtype="FLOAT")
        lines.append(json.dumps({"id": f"{i:04d}", "slices": {"snr": "-5..0 dB" if i < 2 else "10..20 dB"}}))
    (tmp_path / "set" / "items.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path / "set"


def test_evaluate_reports_slices_found_beside_the_mixtures(
    sliced_set: Path, enh_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert find_slices(sliced_set / "mix") == sliced_set / "items.jsonl"
    model = tmp_path / "model"
    shutil.copytree(enh_model_dir, model)
    report = tmp_path / "eval.json"
    code = main(
        [
            str(a)
            for a in (
                "evaluate",
                model,
                "--mix",
                sliced_set / "mix",
                "--ref",
                sliced_set / "s1",
                "--baseline",
                "noisereduce",
                "--metrics",
                "si_sdr",
                "--json",
                report,
            )
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(report.read_text())
    by = {(r["slice"], r["value"]): r for r in doc["slices"]}
    assert set(by) == {("snr", "-5..0 dB"), ("snr", "10..20 dB")} and by[("snr", "-5..0 dB")]["files"] == 2
    low_mix = by[("snr", "-5..0 dB")]["means"]["unprocessed"]["si_sdr"]
    high_mix = by[("snr", "10..20 dB")]["means"]["unprocessed"]["si_sdr"]
    assert low_mix < high_mix - 10  # the noisier half really is the noisier half
    assert np.mean([low_mix, high_mix]) == pytest.approx(doc["means"]["unprocessed"]["si_sdr"], abs=1e-9)
    assert set(by[("snr", "-5..0 dB")]["paired"]) == {"unprocessed", "noisereduce"}
    assert "Per slice" in out and "Slice 'snr'" in out


def test_evaluate_refuses_a_missing_slices_file_before_any_work(
    sliced_set: Path, enh_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            str(a)
            for a in (
                "evaluate",
                enh_model_dir,
                "--mix",
                sliced_set / "mix",
                "--ref",
                sliced_set / "s1",
                "--slices",
                tmp_path / "nope.jsonl",
            )
        ]
    )
    _, err = capsys.readouterr()
    assert code == 2 and "nope.jsonl: no such slices file" in err and len(err.strip().splitlines()) == 1
