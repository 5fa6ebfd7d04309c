"""ONNX export: onnxruntime matches PyTorch on a real clip for every exportable model kind, and --backend onnx runs an
export through the engine at any length, rate and channel count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import sepkit
from sepkit.audio.resample import resample
from sepkit.cli.main import main
from sepkit.deploy.onnx_export import export_onnx
from sepkit.deploy.onnx_runtime import onnx_session
from sepkit.errors import ModelError
from sepkit.metrics import si_sdr
from sepkit.models import build_model
from sepkit.pretrained import ModelConfig, export_model

pytestmark = pytest.mark.usefixtures("one_thread")
REPO = Path(__file__).resolve().parent.parent

# random weights from config: the architectures enhance-default is now and is about to be, and the separators
ARCHS = {
    "filter_enhancer": ("enhance", {}),
    "fast_enhancer": ("enhance", {"n_fft": 512, "hop": 128, "smooth_bins": 15, "smooth_frames": 6}),
    "fast_enhancer_complex": ("enhance", {"mask": "complex", "hidden": 64}),
    "filter_enhancer_lookahead": ("enhance", {"lookahead": 2, "hidden": 64}),
    "filter_enhancer_floor": ("enhance", {"lookahead": 2, "hidden": 64, "noise_floor": 0.5}),
    "filter_enhancer_context": ("enhance", {"lookahead": 2, "hidden": 64, "spectral_context": 4}),
    "stft_separator": ("separate", {"hidden": 32, "layers": 2}),
}


@pytest.fixture(scope="module")
def real_clip() -> torch.Tensor:
    """Two seconds of the bundled noisy recording (its second channel; the first is silent), at 16 kHz, peak 0.5."""
    audio, rate = sf.read(REPO / "examples" / "noisy.wav", dtype="float32", always_2d=True)
    clip = resample(torch.from_numpy(audio[: 2 * rate, 1].copy()), rate, 16000)[None]
    return 0.5 * clip / clip.abs().max()


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Name -> ONNX export folder: the random models above and the shipped separate-2spk (Conv-TasNet)."""
    root = tmp_path_factory.mktemp("onnx")
    out = {"separate-2spk": export_onnx("separate-2spk", root / "separate-2spk")}
    for name, (task, args) in ARCHS.items():
        arch = name.removesuffix("_complex").removesuffix("_lookahead").removesuffix("_floor").removesuffix("_context")
        torch.manual_seed(0)
        net = build_model(arch, **args)
        with torch.no_grad():  # weights that do something: away from the pass-through or equal shares they start at
            for p in net.parameters():
                p.add_(0.2 * torch.randn_like(p))
        config = ModelConfig(arch=arch, args=args, sample_rate=16000, task=task, n_src=net.n_src, name=name)
        folder = export_model(net, root / f"{name}-torch", config, "---\ntraining_data: none\n---\n# test\n")
        out[name] = export_onnx(str(folder), root / name)
    return out


@pytest.mark.parametrize("name", ["separate-2spk", *ARCHS])
def test_onnxruntime_matches_pytorch_on_a_real_clip(
    exports: dict[str, Path], real_clip: torch.Tensor, name: str
) -> None:
    folder = exports[name]
    torch_dir = folder.with_name(f"{name}-torch") if name in ARCHS else name
    net = sepkit.load(torch_dir, device="cpu").net
    clip = torch.cat([real_clip, 0.3 * real_clip.flip(-1)])  # a batch of two, neither the export example's length
    with torch.no_grad():
        expected = net(clip).numpy()
    got = onnx_session(folder / "model.onnx").run(["est"], {"wav": clip.numpy()})[0]
    assert got.shape == expected.shape == (2, net.n_src, clip.shape[-1])
    assert np.abs(got - expected).max() < 1e-4
    assert np.abs(expected - clip[:, None].numpy()).max() > 1e-2  # the model does change its input
    meta = json.loads((folder / "config.json").read_text())
    assert meta["onnx"]["max_abs_diff_vs_torch"] < 1e-4 and "## ONNX" in (folder / "CARD.md").read_text()


@pytest.mark.parametrize("rate,channels,seconds", [(44100, 2, 1.3), (8000, 1, 9.5), (16000, 3, 0.02)])
def test_backend_onnx_runs_any_length_rate_and_channels(
    exports: dict[str, Path], tmp_path: Path, rate: int, channels: int, seconds: float
) -> None:
    from sepkit_fixtures import speechlike

    src = tmp_path / "in.wav"
    sf.write(src, speechlike(seconds, rate, seed=3, channels=channels).T, rate, subtype="PCM_24")
    for name in ("filter_enhancer", "fast_enhancer"):
        dst = tmp_path / f"{name}.wav"
        assert main(["enhance", str(src), "-o", str(dst), "--model", str(exports[name]), "--backend", "onnx"]) == 0
        info = sf.info(dst)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (
            rate,
            channels,
            sf.info(src).frames,
            "PCM_24",
        )
        if 1 < seconds < 8:  # one chunk, no padding: the ONNX graph gives what the PyTorch model gives
            onnx_out, _ = sf.read(dst, dtype="float32", always_2d=True)
            torch_out = sepkit.load(exports[name].with_name(f"{name}-torch"), device="cpu").enhance(
                sf.read(src, dtype="float32", always_2d=True)[0].T, rate
            )
            assert np.min(si_sdr(onnx_out.T, torch_out)) > 40.0
    sep_dir = tmp_path / "sep"
    assert (
        main(
            [
                "separate",
                str(src),
                "--out-dir",
                str(sep_dir),
                "--model",
                str(exports["separate-2spk"]),
                "--backend",
                "onnx",
            ]
        )
        == 0
    )
    assert [sf.info(sep_dir / f"in_s{k}.wav").frames for k in (1, 2)] == [sf.info(src).frames] * 2


def test_backend_onnx_separation_equals_the_torch_backend(exports: dict[str, Path], real_clip: torch.Tensor) -> None:
    x = real_clip[0].numpy()
    onnx = sepkit.load(exports["stft_separator"], backend="onnx").separate(x, 16000)
    ref = sepkit.load(exports["stft_separator"].with_name("stft_separator-torch"), device="cpu").separate(x, 16000)
    assert onnx.shape == ref.shape == (2, x.size)
    assert np.abs(onnx - ref).max() < 1e-4


def test_export_and_backend_refusals_are_one_line(
    exports: dict[str, Path], capsys: pytest.CaptureFixture[str], enh_model_dir: Path
) -> None:
    def error(*args: str) -> str:
        assert main([str(a) for a in args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("sepkit: error:"), err
        return err

    torch_dir = exports["filter_enhancer"].with_name("filter_enhancer-torch")
    assert "no model.onnx" in error("enhance", "x.wav", "--model", torch_dir, "--backend", "onnx")
    assert "--backend onnx" in error("enhance", "x.wav", "--model", exports["filter_enhancer"])
    assert "runs on the CPU" in error(
        "enhance", "x.wav", "--model", exports["filter_enhancer"], "--backend", "onnx", "--device", "cuda"
    )
    assert "refusing to replace an input" in error("export", torch_dir, torch_dir, "--format", "onnx")
    assert "already exists" in error("export", torch_dir, exports["filter_enhancer"], "--format", "onnx")
    assert "not a checkpoint file" in error("export", torch_dir, exports["filter_enhancer"].parent / "new")
    assert "--format must be" in error("export", torch_dir, exports["filter_enhancer"].parent / "new", "--format", "tf")
    with pytest.raises(ModelError, match="streaming steps the PyTorch model"):
        sepkit.load(exports["filter_enhancer"], backend="onnx").stream(16000)
