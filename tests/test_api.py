"""Python API: load, enhance/separate on arrays and tensors, file round trips, pretrained format."""

from __future__ import annotations

import copy

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import sepkit
from sepkit.errors import AudioError, ModelError
from sepkit.pretrained import load_network, resolve_model_dir
from sepkit_fixtures import ConvTestModel, speechlike


def test_enhance_array_keeps_type_shape_and_matches_network(enh_model_dir: Path) -> None:
    model = sepkit.load(enh_model_dir, device="cpu")
    x = speechlike(1.3)[0]
    y = model.enhance(x, 16000)
    assert isinstance(y, np.ndarray) and y.shape == x.shape and y.dtype == np.float32
    with torch.no_grad():
        ref = ConvTestModel()(torch.from_numpy(x)[None])[0, 0].numpy()
    np.testing.assert_allclose(y, ref, atol=1e-4)
    t = model.enhance(torch.from_numpy(speechlike(0.4, channels=3)), 16000)
    assert isinstance(t, torch.Tensor) and t.shape == (3, 6400)


def test_separate_array_shape(sep_model_dir: Path) -> None:
    model = sepkit.load(sep_model_dir, device="cpu")
    out = model.separate(speechlike(0.5, 8000, channels=2), 8000)
    assert out.shape == (2, 2, 4000)
    with pytest.raises(ModelError, match="separate model"):
        model.enhance(speechlike(0.5)[0], 16000)


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.zeros(0, np.float32), "empty"),
        (np.full(100, np.nan, np.float32), "NaN"),
        (np.zeros((2, 2, 2), np.float32), "shape"),
        (np.zeros((16000, 2)), "channels, time"),
    ],
)
def test_bad_arrays(enh_model_dir: Path, bad: np.ndarray, match: str) -> None:
    with pytest.raises(AudioError, match=match):
        sepkit.load(enh_model_dir, device="cpu").enhance(bad, 16000)


def test_int16_input_is_scaled(enh_model_dir: Path) -> None:
    model = sepkit.load(enh_model_dir, device="cpu")
    x = speechlike(0.3)[0]
    y16 = model.enhance((x * 32768).astype(np.int16), 16000)
    np.testing.assert_allclose(y16, model.enhance(x, 16000), atol=1e-3)


@pytest.mark.parametrize(
    "rate,channels,subtype", [(16000, 1, "PCM_16"), (44100, 2, "PCM_24"), (8000, 1, "FLOAT"), (48000, 6, "PCM_16")]
)
def test_enhance_file_keeps_rate_channels_length_format(
    enh_model_dir: Path, make_wav, tmp_path: Path, rate: int, channels: int, subtype: str
) -> None:
    src = make_wav("in.wav", seconds=1.1, sr=rate, channels=channels, subtype=subtype)
    before = src.read_bytes()
    dst = sepkit.load(enh_model_dir, device="cpu").enhance_file(src, tmp_path / "out" / "in.wav")
    info_in, info_out = sf.info(src), sf.info(dst)
    assert (info_out.samplerate, info_out.channels, info_out.frames, info_out.subtype) == (
        info_in.samplerate,
        info_in.channels,
        info_in.frames,
        info_in.subtype,
    )
    assert src.read_bytes() == before
    assert not any(p.name.endswith(".part") for p in dst.parent.iterdir())


def test_file_output_equals_array_output(enh_model_dir: Path, make_wav, tmp_path: Path) -> None:
    src = make_wav("long.wav", seconds=3.0, sr=22050, subtype="FLOAT")
    model = sepkit.load(enh_model_dir, device="cpu")
    y_file, _ = sf.read(model.enhance_file(src, tmp_path / "o.wav"), dtype="float32", always_2d=True)
    x, _ = sf.read(src, dtype="float32", always_2d=True)
    np.testing.assert_allclose(y_file.T, model.enhance(x.T, 22050), atol=1e-5)


def test_separate_file_names(sep_model_dir: Path, make_wav, tmp_path: Path) -> None:
    src = make_wav("mix.flac", seconds=0.6)
    paths = sepkit.load(sep_model_dir, device="cpu").separate_file(src, tmp_path / "sep")
    assert [p.name for p in paths] == ["mix_s1.wav", "mix_s2.wav"]
    assert all(sf.info(p).frames == sf.info(src).frames for p in paths)


def test_nan_file_leaves_no_output(enh_model_dir: Path, tmp_path: Path) -> None:
    x = speechlike(25.0)[0]
    x[-100] = np.inf  # found only in the last read block, after output was already written
    sf.write(tmp_path / "bad.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or Inf"):
        sepkit.load(enh_model_dir, device="cpu").enhance_file(tmp_path / "bad.wav", tmp_path / "out.wav")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.wav"]


def test_pretrained_format_has_no_pickle(enh_model_dir: Path) -> None:
    assert sorted(p.name for p in enh_model_dir.iterdir()) == ["CARD.md", "config.json", "model.safetensors"]
    assert json.loads((enh_model_dir / "config.json").read_text())["arch"] == "test_conv"
    net, config = load_network(enh_model_dir)
    assert config.task == "enhance" and not net.training


def test_exported_files_get_the_permissions_of_any_new_file(enh_model_dir: Path) -> None:
    """safetensors writes its files owner-only; an exported model must be readable as the umask allows."""
    mask = os.umask(0)
    os.umask(mask)
    for name in ("model.safetensors", "config.json", "CARD.md"):
        assert (enh_model_dir / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


def test_unknown_model_and_broken_dirs(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown model 'no-such-model'"):
        sepkit.load("no-such-model")
    with pytest.raises(ModelError, match="not a sepkit model directory"):
        resolve_model_dir(tmp_path)
    (tmp_path / "config.json").write_text('{"arch": "test_conv"}')
    with pytest.raises(ModelError, match="lacks"):
        sepkit.load(tmp_path)


def test_a_model_with_nan_weights_is_refused_at_load(tmp_path: Path) -> None:
    """An export of a diverged run (written before export refused one) would turn every input into NaN."""
    from sepkit.pretrained import ModelConfig, export_model

    net = ConvTestModel(n_src=1, sample_rate=8000)
    with torch.no_grad():
        net.out.bias[0] = float("nan")
    args = {"n_src": 1, "sample_rate": 8000}
    config = ModelConfig(arch="test_conv", args=args, sample_rate=8000, task="enhance", n_src=1)
    folder = export_model(net, tmp_path / "diverged", config)
    with pytest.raises(ModelError, match=r"diverged.*weight out\.bias is NaN or infinite"):
        sepkit.load(folder, device="cpu")


def test_shipped_models_found_by_name(enh_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEPKIT_PRETRAINED", str(enh_model_dir.parent))
    assert sepkit.load("test-enh", device="cpu").name == "test-enh"


def test_export_and_load_a_network_with_tied_weights(tmp_path: Path) -> None:
    """safetensors refuses shared tensors in save_file; our export stores them once and reloads the tie."""
    import torch.nn as nn

    from sepkit.models import register_model
    from sepkit.pretrained import ModelConfig, export_model, load_network

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.Linear(4, 4, bias=False)
            self.dec = nn.Linear(4, 4, bias=False)
            self.dec.weight = self.enc.weight

    register_model("test_tied")(Tied)
    net = Tied()
    out = export_model(
        net, tmp_path / "tied", ModelConfig(arch="test_tied", args={}, sample_rate=16000, task="enhance", n_src=1)
    )
    back, _ = load_network(out)
    assert torch.equal(back.enc.weight, net.enc.weight)
    assert back.dec.weight.data_ptr() == back.enc.weight.data_ptr()


def test_loudest_outputs_are_picked_per_chunk_and_kept_in_one_order(tmp_path: Path) -> None:
    """A MixIT-style model with spare outputs: "loudest" takes the n_src outputs of most energy in each chunk."""
    import torch.nn as nn

    from sepkit.models import register_model
    from sepkit.pretrained import ModelConfig, export_model

    class SpareOutputs(nn.Module):
        """Four outputs summing to the input, two of them near-silent; which two are loud changes at random from chunk to chunk."""

        def __init__(self) -> None:
            super().__init__()
            self.gain = nn.Parameter(torch.tensor([1.6, -0.65, 0.02, 0.03]))
            self.gen = torch.Generator().manual_seed(0)

        def forward(self, wav: torch.Tensor) -> torch.Tensor:
            est = self.gain[None, :, None] * wav[:, None]
            order = torch.stack([torch.randperm(4, generator=self.gen) for _ in range(wav.shape[0])])
            return torch.gather(est, 1, order[..., None].expand_as(est))

    register_model("test_spare_outputs")(SpareOutputs)
    config = ModelConfig(
        arch="test_spare_outputs",
        args={},
        sample_rate=16000,
        task="separate",
        n_src=2,
        source_outputs="loudest",
        inference={"chunk_seconds": 0.2, "overlap_seconds": 0.05},
    )
    model = sepkit.load(export_model(SpareOutputs(), tmp_path / "spare", config), device="cpu")
    x = 0.5 * torch.from_numpy(speechlike(1.0, channels=2))  # the loudest output stays below full scale
    out = model.separate(x, 16000)  # (2, C, T)
    for c in range(2):
        gains = sorted((out[:, c] * x[c]).sum(-1) / x[c].square().sum())  # one gain per output, whole file
        np.testing.assert_allclose(gains, [-0.65, 1.6], atol=1e-4)
        assert (out[0, c] / x[c]).std() < 1e-3  # each output is one source throughout


def test_unknown_source_output_rule_is_refused(tmp_path: Path) -> None:
    from sepkit.pretrained import ModelConfig

    with pytest.raises(ModelError, match="source_outputs"):
        ModelConfig.from_dict(
            {
                "arch": "x",
                "args": {},
                "sample_rate": 8000,
                "task": "separate",
                "n_src": 2,
                "source_outputs": "quietest",
            },
            "m",
        )


def test_arch_args_rebuild_the_network_with_other_options(tmp_path: Path) -> None:
    """What recipes/enhance/dnsmos_probe.py needs: a fast_enhancer's gain post-processing set at load time."""
    from sepkit.models import build_model
    from sepkit.pretrained import ModelConfig, export_model

    torch.manual_seed(0)
    args = {"hidden": 16, "layers": 1}
    config = ModelConfig(arch="fast_enhancer", args=args, sample_rate=16000, task="enhance", n_src=1)
    folder = export_model(build_model("fast_enhancer", **args), tmp_path / "enh", config)
    before = (folder / "config.json").read_text()
    smooth = {"smooth_bins": 5, "smooth_frames": 3, "mask_floor": 0.1}
    model = sepkit.load(folder, device="cpu", arch_args=smooth)
    plain = sepkit.load(folder, device="cpu")
    assert (model.net.smooth_bins, model.net.smooth_frames) == (5, 3) and model.config.args == {**args, **smooth}
    assert (folder / "config.json").read_text() == before  # the folder is left as it was
    reference = build_model("fast_enhancer", **args, **smooth).eval()
    reference.load_state_dict(plain.net.state_dict())
    wav = torch.from_numpy(speechlike(0.5)[0])[None]
    with torch.no_grad():
        assert torch.equal(model.net(wav), reference(wav))
        assert not torch.allclose(model.net(wav), plain.net(wav))
    with pytest.raises(ModelError, match="cannot load weights"):
        sepkit.load(folder, device="cpu", arch_args={"n_fft": 256})
    with pytest.raises(ModelError, match="arch_args"):
        sepkit.load(folder, arch_args=smooth, backend="onnx")


def test_with_outputs_picks_other_outputs_of_the_same_network(tmp_path: Path) -> None:
    """What recipes/mixit/output_choice.py needs: every output, the loudest, or a list, without editing .config."""
    from sepkit.pretrained import ModelConfig, export_model

    config = ModelConfig(
        arch="test_conv",
        args={"n_src": 4},
        sample_rate=16000,
        task="separate",
        n_src=2,
        source_outputs=[0, 3],
        inference={"chunk_seconds": 0.5, "overlap_seconds": 0.1},
    )
    model = sepkit.load(export_model(ConvTestModel(n_src=4), tmp_path / "mixit", config), device="cpu")
    x = speechlike(1.0)[0]
    every = model.with_outputs(None)
    assert every.n_src == 4 and every.net is model.net and every.config.source_outputs is None
    all_out, fixed = every.separate(x, 16000), model.separate(x, 16000)
    assert all_out.shape == (4, x.shape[-1])
    np.testing.assert_array_equal(fixed, all_out[[0, 3]])
    picked = model.with_outputs([2, 1])
    assert picked.n_src == 2
    np.testing.assert_array_equal(picked.separate(x, 16000), all_out[[2, 1]])
    loudest = model.with_outputs("loudest")
    assert loudest.n_src == 2 and loudest.config.source_outputs == "loudest"
    assert loudest.separate(x, 16000).shape == (2, x.shape[-1])
    balanced = model.with_outputs("balanced")
    assert balanced.n_src == 2 and balanced.separate(x, 16000).shape == (2, x.shape[-1])
    assert model.config.source_outputs == [0, 3] and model.n_src == 2  # the model itself is unchanged
    five = copy.copy(model)  # a config asking for more sources than the network has outputs
    five.config = ModelConfig.from_dict({**model.config.to_dict(), "n_src": 5, "source_outputs": None}, "five")
    with pytest.raises(ModelError, match="needs 5 sources from 4 outputs"):
        five.with_outputs("balanced")
    for bad, match in (([4], "not indices"), ([], "not indices"), ("quietest", "source_outputs")):
        with pytest.raises(ModelError, match=match):
            model.with_outputs(bad)


def test_separator_outputs_come_back_at_the_mixture_level_and_polarity(tmp_path: Path) -> None:
    """A scale-invariant loss leaves level and polarity arbitrary: the sources are put back to sum to the mixture."""
    import torch.nn as nn

    from sepkit.models import register_model
    from sepkit.pretrained import ModelConfig, export_model

    class InvertedQuiet(nn.Module):
        """Two sources, 0.7 and 0.3 of the input, both at -0.2 times that: inverted and 14 dB low."""

        def __init__(self) -> None:
            super().__init__()
            self.gain = nn.Parameter(torch.tensor([-0.14, -0.06]))

        def forward(self, wav: torch.Tensor) -> torch.Tensor:
            return self.gain[None, :, None] * wav[:, None]

    register_model("test_inverted_quiet")(InvertedQuiet)
    config = ModelConfig(arch="test_inverted_quiet", args={}, sample_rate=16000, task="separate", n_src=2)
    model = sepkit.load(export_model(InvertedQuiet(), tmp_path / "inv", config), device="cpu")
    x = 0.5 * torch.from_numpy(speechlike(1.0))
    out = model.separate(x, 16000)
    np.testing.assert_allclose(out.sum(0), x, atol=1e-4)
    np.testing.assert_allclose(out[0] / 0.7, out[1] / 0.3, atol=1e-4)  # the balance between the sources stays


def test_an_enhancer_trained_scale_free_is_put_at_the_input_level_when_its_config_asks(tmp_path: Path) -> None:
    """An SI-SDR-only enhancer may give its output 20 dB over full scale; the limiter would squash it. With
    ``inference.match_gain`` the output gets one least-squares gain per chunk towards the input instead."""
    import torch.nn as nn

    from sepkit.errors import ModelError
    from sepkit.models import register_model
    from sepkit.pretrained import ModelConfig, export_model

    class Loud(nn.Module):
        """The input, 20 dB up: what a scale-invariant loss allows."""

        def __init__(self) -> None:
            super().__init__()
            self.gain = nn.Parameter(torch.tensor(10.0))

        def forward(self, wav: torch.Tensor) -> torch.Tensor:
            return self.gain * wav[:, None]

    register_model("test_loud")(Loud)
    x = 0.5 * speechlike(1.0)
    for match, folder in ((False, "plain"), (True, "matched")):
        inference = {"match_gain": True} if match else {}
        config = ModelConfig(arch="test_loud", args={}, sample_rate=16000, task="enhance", n_src=1, inference=inference)
        model = sepkit.load(export_model(Loud(), tmp_path / folder, config), device="cpu")
        out = model.enhance(x, 16000)
        if match:
            np.testing.assert_allclose(out, x, atol=1e-4)  # the input's level, unsquashed
            with pytest.raises(ModelError, match="match_gain"):
                model.stream(16000)
        else:
            assert np.abs(out).max() <= 1.0 and not np.allclose(out, x, atol=1e-2)  # limited, not at the input's level
