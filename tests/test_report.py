"""``sepkit evaluate --report``: a self-contained page whose every link and audio player points at a real file."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import soundfile as sf

from sepkit.cli.main import main
from sepkit.evaluation.compare import Evaluation
from sepkit.evaluation.report import chosen_files
from sepkit_fixtures import speechlike

SR = 8000  # not the test model's 16 kHz: outputs and players keep the input's rate
SECONDS = {"u0": 0.8, "u1": 1.0, "u2": 1.2, "u3": 1.4, "u4": 1.6}  # a different length per file


class Page(HTMLParser):
    """Every link, source and element id of an HTML page, and whether it loads anything from outside."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []  # (tag, target)
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        for key in ("href", "src"):
            if a.get(key):
                self.links.append((tag, str(a[key])))


@pytest.fixture
def test_set(tmp_path: Path) -> Path:
    """mix/ and s1/: five noisy utterances, noisier as they go, and slice labels beside them."""
    rng = np.random.default_rng(0)
    items = []
    for i, (stem, seconds) in enumerate(SECONDS.items()):
        clean = speechlike(seconds, SR, i)[0]
        noise = (0.01 + 0.04 * i) * rng.standard_normal(clean.shape).astype(np.float32)
        for folder, audio in (("s1", clean), ("mix", clean + noise)):
            (tmp_path / folder).mkdir(exist_ok=True)
            sf.write(tmp_path / folder / f"{stem}.wav", audio, SR, subtype="FLOAT")
        items.append({"id": stem, "slices": {"noise": "loud" if i >= 3 else "soft"}})
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(item) + "\n" for item in items))
    return tmp_path


def evaluate(
    capsys: pytest.CaptureFixture[str], test_set: Path, model: Path | str, report: Path, *extra: str
) -> tuple[int, str, str]:
    code = main(
        [
            "evaluate",
            str(model),
            "--mix",
            str(test_set / "mix"),
            "--ref",
            str(test_set / "s1"),
            "--metrics",
            "si_sdr,estoi",
            "--report",
            str(report),
            *extra,
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_report_links_only_files_it_wrote_with_the_right_audio(
    test_set: Path, enh_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report"
    code, out, err = evaluate(
        capsys, test_set, enh_model_dir, report, "--baseline", "noisereduce", "--report-files", "u1.wav"
    )
    assert code == 0, err
    assert str(report / "index.html") in out
    text = (report / "index.html").read_text()
    page = Page(text)
    # self-contained: no script, style or picture from elsewhere, no link out
    assert "http" not in text and "link" not in page.tags and "//" not in " ".join(t for _, t in page.links)
    for _, target in page.links:
        if target.startswith("#"):
            assert target[1:] in page.ids, target
        else:
            assert (report / unquote(target)).is_file(), target
    players = [unquote(t) for tag, t in page.links if tag == "audio"]
    pictures = [unquote(t) for tag, t in page.links if tag == "img" and "improvement" not in t]
    # best, median and worst by SI-SDRi plus the file asked for: input, model, noisereduce and reference each
    shown = {Path(p).parent.name.split("_", 1)[1] for p in players}
    assert "u1" in shown and 3 <= len(shown) <= 4
    assert len(players) == 4 * len(shown) and len(pictures) == len(players)
    for player in players:
        stem = Path(player).parent.name.split("_", 1)[1]
        info = sf.info(report / player)
        assert info.samplerate == SR and info.frames == sf.info(test_set / "mix" / f"{stem}.wav").frames, player
    assert {Path(p).stem for p in players} == {"input", "test-enh", "noisereduce", "reference"}
    # the sortable per-file table holds every file; the summary every system; the slices their values
    for stem in SECONDS:
        assert f">{stem}<" in text
    for system in ("unprocessed", "noisereduce", "test-enh"):
        assert f"<td>{system}</td>" in text
    assert 'class="sortable"' in text and "<h3>noise</h3>" in text and ">loud<" in text
    assert (report / "img" / "improvement.png").stat().st_size > 5_000


def test_files_shown_are_the_best_median_and_worst_then_the_named() -> None:
    gains = {"a": 3.0, "b": -1.0, "c": 0.5, "d": float("nan"), "e": 1.0}
    result = Evaluation("m", "enhance", 5, ["si_sdr"], rows={"m": {f: {"si_sdri": g} for f, g in gains.items()}})
    assert chosen_files(result, ["b", "d"]) == {
        "a": ["best by SI-SDRi"],
        "e": ["median by SI-SDRi"],
        "b": ["worst by SI-SDRi", "named"],
        "d": ["named"],
    }
    two = Evaluation("m", "enhance", 2, ["si_sdr"], rows={"m": {"x": {"si_sdri": 1.0}, "y": {"si_sdri": 2.0}}})
    assert chosen_files(two) == {"y": ["best by SI-SDRi", "median by SI-SDRi"], "x": ["worst by SI-SDRi"]}


def test_a_second_report_replaces_the_first(
    test_set: Path, enh_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report"
    assert evaluate(capsys, test_set, enh_model_dir, report)[0] == 0
    (report / "audio" / "stale.flac").write_bytes(b"old")
    assert evaluate(capsys, test_set, enh_model_dir, report)[0] == 0
    assert not (report / "audio" / "stale.flac").exists() and (report / "index.html").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []  # no staging left behind


def _unwritable(tmp_path: Path) -> Path:
    if os.geteuid() == 0:  # root writes anywhere it has permissions for: /proc takes no new folders at all
        return Path("/proc/sepkit-report")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    return locked / "report"


@pytest.mark.parametrize(
    "target, extra, message",
    [
        ("file", [], "is a file"),
        ("full", [], "holds other files"),
        ("unwritable", [], "cannot write here"),
        ("new", ["--metrics", "estoi"], "needs si_sdr"),
        ("new", ["--report-files", "nope"], "'nope': no such mixture"),
    ],
)
def test_bad_report_requests_fail_in_one_line_before_any_model_runs(
    test_set: Path, tmp_path: Path, target: str, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    report = {
        "file": tmp_path / "taken.html",
        "full": test_set,
        "new": tmp_path / "new",
        "unwritable": _unwritable(tmp_path),
    }[target]
    if target == "file":
        report.write_text("mine")
    # a model that does not exist: the report request must be refused before the model is even looked up
    code, _, err = evaluate(capsys, test_set, "no-such-model", report, *extra)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert target != "file" or report.read_text() == "mine"
    assert not (tmp_path / "new").exists()
