"""Spectrogram pictures: one colour scale, and ``sepkit enhance/separate --plot`` writing them beside the outputs."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepkit.cli.main import main
from sepkit.plots import shared_limits, spectrogram
from sepkit_fixtures import speechlike


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", path
    return struct.unpack(">II", head[16:24])


def test_spectrogram_power_and_one_colour_scale() -> None:
    rate = 16000
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    spec = spectrogram(tone, rate)
    t0, t1, f0, f1 = spec.extent
    freqs = np.linspace(f0, f1, spec.db.shape[0], endpoint=False)
    assert abs(freqs[spec.db.mean(axis=1).argmax()] - 1000) < 40  # the tone's bin is the loudest
    assert t0 <= 0.0 and t1 >= 1.0 and f1 >= rate / 2 - 40
    quiet = spectrogram(0.1 * tone, rate)
    assert quiet.peak == pytest.approx(spec.peak - 20, abs=0.01)  # power in dB: a tenth is 20 dB down
    low, high = shared_limits([quiet, spec])
    assert high == spec.peak and high - low == 80
    # a long signal keeps a bounded number of columns
    assert spectrogram(np.zeros(rate * 600, np.float32), rate).db.shape[1] <= 2001


def test_enhance_plot_writes_a_before_after_png(
    capsys: pytest.CaptureFixture[str], enh_model_dir: Path, make_wav
) -> None:
    src = make_wav("noisy.wav", seconds=1.0)
    code = main(["enhance", str(src), "--model", str(enh_model_dir), "--device", "cpu", "--plot"])
    out, err = capsys.readouterr()
    assert code == 0, err
    png = src.with_name("noisy_enhanced.png")
    assert out.split() == [str(src.with_name("noisy_enhanced.wav")), str(png)]
    assert png_size(png) == (800, 420)  # 8 x 4.2 inches at 100 dpi: two panels of 1.9 in and the axis label


def test_plot_never_overwrites_without_force(capsys: pytest.CaptureFixture[str], enh_model_dir: Path, make_wav) -> None:
    src = make_wav("noisy.wav", seconds=0.5)
    png = src.with_name("noisy_enhanced.png")
    png.write_bytes(b"mine")
    code = main(["enhance", str(src), "--model", str(enh_model_dir), "--device", "cpu", "--plot"])
    err = capsys.readouterr().err
    assert code == 2 and "already exists" in err and "Traceback" not in err
    assert (
        png.read_bytes() == b"mine" and not src.with_name("noisy_enhanced.wav").exists()
    )  # checked before the model ran
    assert main(["enhance", str(src), "--model", str(enh_model_dir), "--device", "cpu", "--plot", "--force"]) == 0
    assert png_size(png) == (800, 420)


def test_separate_plot_shows_the_mixture_above_each_source(
    capsys: pytest.CaptureFixture[str], sep_model_dir: Path, tmp_path: Path
) -> None:
    mix = tmp_path / "mix.wav"
    sf.write(mix, speechlike(1.0, 8000, 3)[0], 8000)
    code = main(["separate", str(mix), "--out-dir", str(tmp_path / "out"), "--model", str(sep_model_dir), "--plot"])
    out, err = capsys.readouterr()
    assert code == 0, err
    written = out.split()
    assert written[-1] == str(tmp_path / "out" / "mix.png") and len(written) == 3
    assert png_size(tmp_path / "out" / "mix.png") == (800, 610)  # three panels
