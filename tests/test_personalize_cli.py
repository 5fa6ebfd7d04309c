"""``sepkit personalize`` end to end on a tiny folder: model folder, enhance with it, resume, 8 kHz, errors."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

import sepkit
from sepkit.cli.main import main
from sepkit.models import build_model
from sepkit.models.fast_enhancer import FastEnhancer
from sepkit.models.snr_estimator import SnrEstimator
from sepkit.pretrained import ModelConfig, export_model, load_network, read_card
from sepkit.train.personalize_job import PersonalizeOptions, personalize
from sepkit_fixtures import speechlike

BASE_ARGS = {"n_fft": 128, "hop": 32, "hidden": 16, "layers": 1}


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


@pytest.fixture(autouse=True)
def _no_default_noise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEPKIT_NOISE", raising=False)


def _recordings(folder: Path, rate: int, seconds: float, count: int) -> Path:
    rng = np.random.default_rng(rate)
    folder.mkdir(parents=True)
    for i in range(count):
        audio = speechlike(seconds, rate, seed=i)[0] + 0.02 * rng.standard_normal(int(seconds * rate))
        sf.write(folder / f"take{i}.wav", audio.astype(np.float32), rate)
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One speaker's recordings at 16 and 8 kHz (64 s each), a noise folder, a tiny 16 kHz base, an SNR estimator."""
    root = tmp_path_factory.mktemp("personalize")
    out = {
        "noisy16": _recordings(root / "noisy16", 16000, 8.0, 8),
        "noisy8": _recordings(root / "noisy8", 8000, 8.0, 8),
        "short": _recordings(root / "short", 16000, 5.0, 2),
        "empty": root / "empty",
        "noise": root / "noise",
    }
    out["empty"].mkdir()
    (out["empty"] / "notes.txt").write_text("no audio here")
    out["noise"].mkdir()
    rng = np.random.default_rng(5)
    for i in range(2):
        sf.write(out["noise"] / f"n{i}.wav", (0.1 * rng.standard_normal(48000)).astype(np.float32), 16000)
    torch.manual_seed(0)
    out["base"] = export_model(
        FastEnhancer(sample_rate=16000, **BASE_ARGS),
        root / "base",
        ModelConfig("fast_enhancer", {**BASE_ARGS, "sample_rate": 16000}, 16000, "enhance", 1, name="base"),
    )
    snr_args = {"n_fft": 256, "hop": 64, "hidden": 8, "layers": 1}
    out["snr"] = export_model(
        SnrEstimator(sample_rate=16000, **snr_args),
        root / "snr",
        ModelConfig("snr_estimator", {**snr_args, "sample_rate": 16000}, 16000, "snr", 1),
    )
    esnr_args = {"n_fft": 256, "hop": 64, "bands": 8, "hidden": 8, "layers": 1, "enhancer": BASE_ARGS}
    out["esnr"] = export_model(
        build_model("enhancer_snr", sample_rate=16000, **esnr_args),
        root / "esnr",
        ModelConfig("enhancer_snr", {**esnr_args, "sample_rate": 16000}, 16000, "snr", 1),
    )
    return out


def _argv(files: dict[str, Path], noisy: str, out: Path, *extra: str) -> list[str]:
    return [
        "personalize",
        str(files[noisy]),
        "--out",
        str(out),
        "--base",
        str(files["base"]),
        "--noise",
        str(files["noise"]),
        "--steps",
        "6",
        "--validate-every",
        "3",
        "--batch-size",
        "4",
        "--device",
        "cpu",
        *extra,
    ]


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sepkit: error:")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def personalized(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One uninterrupted run of the CLI on the 16 kHz recordings: its folder and what it printed."""
    out = tmp_path_factory.mktemp("runs") / "me"
    capture = io.StringIO()
    with contextlib.redirect_stdout(capture):
        assert main(_argv(files, "noisy16", out)) == 0
    return out, capture.getvalue()


@pytest.mark.slow
def test_personalize_makes_a_model_folder_that_enhance_and_load_use(
    files: dict[str, Path], personalized: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, printed = personalized
    assert printed.strip().splitlines()[-1] == str(out)
    assert (out / "training" / "checkpoints" / "last.ckpt").is_file()
    net, config = load_network(out)
    assert (config.task, config.arch, config.sample_rate, config.args["n_fft"]) == (
        "enhance",
        "fast_enhancer",
        16000,
        128,
    )
    meta, _ = read_card(out)
    assert meta["paradigm"] == "personalize" and meta["steps"] == 6 and "si_sdri" in meta["scores"]

    src = files["noisy16"] / "take0.wav"
    assert main(["enhance", str(src), "--model", str(out), "-o", str(tmp_path / "clean.wav"), "--device", "cpu"]) == 0
    enhanced, rate = sf.read(tmp_path / "clean.wav")
    assert rate == 16000 and enhanced.shape == sf.read(src)[0].shape
    model = sepkit.load(out, device="cpu")
    assert model.task == "enhance" and model.enhance(np.zeros(4000, dtype=np.float32), 16000).shape == (4000,)

    assert main(_argv(files, "noisy16", out, "--method", "cm")) == 2  # not silently mixed with another run
    assert "other settings" in _error(capsys)


class Crash(Exception):
    """Stands in for a killed process."""


class CrashAt(pl.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, *args: object) -> None:
        if trainer.global_step == self.step:
            raise Crash


@pytest.mark.slow
def test_an_interrupted_run_resumes_where_it_stopped(
    files: dict[str, Path], personalized: tuple[Path, str], tmp_path: Path
) -> None:
    opts = PersonalizeOptions(
        files["noisy16"],
        tmp_path / "stopped",
        base=str(files["base"]),
        noise=str(files["noise"]),
        device="cpu",
        steps=6,
        validate_every=3,
        batch_size=4,
    )
    with pytest.raises(Crash):  # killed after step 5: the last checkpoint is step 3
        personalize(opts, callbacks=[CrashAt(5)])
    ckpt = tmp_path / "stopped" / "training" / "checkpoints" / "last.ckpt"
    assert torch.load(ckpt, weights_only=True)["global_step"] == 3
    assert main(_argv(files, "noisy16", tmp_path / "stopped")) == 0  # the same command again
    assert torch.load(ckpt, weights_only=True)["global_step"] == 6
    a = torch.load(personalized[0] / "training" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(ckpt, weights_only=True)["state_dict"]
    for name in a:  # the resumed run ends exactly where the uninterrupted one does
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_8khz_recordings_give_an_8khz_model_with_contrastive_mixtures_and_purification(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "phone"  # the estimator runs at 16 kHz: its speech estimate comes back at 8 kHz for the target
    assert main(_argv(files, "noisy8", out, "--method", "cm", "--purify", "--snr-model", str(files["esnr"]))) == 0
    assert yaml.safe_load((out / "training" / "config.yaml").read_text())["personalize"]["purify"]["reduce"] == "target"
    net, config = load_network(out)
    assert config.sample_rate == 8000 and (config.args["n_fft"], config.args["hop"]) == (64, 16)  # same 8 ms / 2 ms
    assert net.sample_rate == 8000
    meta, _ = read_card(out)
    assert meta["sample_rate"] == 8000
    src = files["noisy8"] / "take1.wav"
    assert main(["enhance", str(src), "--model", str(out), "-o", str(tmp_path / "o.wav"), "--device", "cpu"]) == 0
    assert sf.info(tmp_path / "o.wav").samplerate == 8000


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("short", "needs at least 60 s"),
        ("empty", "no audio files"),
        ("missing", "no such folder"),
        ("no-noise", "pass --noise"),
        ("no-estimator", "--purify needs a segmental SNR estimator"),
        ("no-base", "unknown model"),
        ("occupied", "not a personalisation folder"),
        ("method", "--method must be pseudose or cm"),
        ("form", "--purify-form must be one of"),
        ("target-needs-speech", "--purify-form target needs an estimator that also estimates the speech"),
    ],
)
def test_clear_one_line_errors(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    argv = _argv(files, {"short": "short", "empty": "empty"}.get(case, "noisy16"), tmp_path / "out")
    if case == "missing":
        argv[1] = str(tmp_path / "nowhere")
    if case == "no-noise":
        i = argv.index("--noise")
        del argv[i : i + 2]
    if case == "no-estimator":
        argv += ["--purify", "--snr-model", "no-such-estimator"]
    if case == "no-base":
        argv[argv.index("--base") + 1] = "no-such-base"
    if case == "occupied":
        (tmp_path / "out").mkdir()
        (tmp_path / "out" / "mine.txt").write_text("keep")
    if case == "method":
        argv += ["--method", "mixit"]
    if case == "form":
        argv += ["--purify", "--snr-model", str(files["esnr"]), "--purify-form", "weights"]
    if case == "target-needs-speech":
        argv += ["--purify", "--snr-model", str(files["snr"])]
    assert main(argv) == 2
    assert message in _error(capsys)
    assert not (tmp_path / "out" / "training" / "checkpoints").exists()
