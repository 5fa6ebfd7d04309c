"""recipes/enhance/band_gain_probe.py: band averaging keeps a flat gain, averages only above its cut-off, keeps the phase."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location(
        "band_gain_probe", ROOT / "recipes" / "enhance" / "band_gain_probe.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_matrix_averages_within_bands_above_the_cut_off_only():
    probe = _script()
    n_bins, rate = 257, 16000
    matrix = probe.band_average_matrix(n_bins, rate, bands=16, low_hz=2000.0)
    hz = np.linspace(0, rate / 2, n_bins)
    below = hz < 2000.0
    assert torch.allclose(matrix.sum(1), torch.ones(n_bins))  # every row is an average
    assert torch.equal(matrix[below][:, below], torch.eye(int(below.sum())))  # bins below pass unchanged
    assert float(matrix[below][:, ~below].abs().sum()) == 0.0 and float(matrix[~below][:, below].abs().sum()) == 0.0
    bands_used = {tuple(row.nonzero().flatten().tolist()) for row in matrix[~below]}
    assert len(bands_used) == 16  # sixteen bands, each shared by its bins
    widths = sorted(len(b) for b in bands_used)
    assert widths[0] < widths[-1]  # ERB bands widen with frequency
    spike = torch.zeros(n_bins)
    top = n_bins - 1
    spike[top] = 1.0
    band = matrix[top].nonzero().flatten()
    assert torch.allclose((matrix @ spike)[band], torch.full((len(band),), 1.0 / len(band)))  # one bin's jump is shared


def test_flat_gain_passes_unchanged_and_output_stays_within_full_scale():
    probe = _script()
    rate = 16000
    rng = np.random.default_rng(0)
    noisy = (0.1 * rng.standard_normal(rate)).astype(np.float32)
    matrix = probe.band_average_matrix(probe.N_FFT // 2 + 1, rate, bands=32, low_hz=0.0)
    half = (0.5 * noisy).astype(np.float32)
    out = probe.band_smoothed(noisy, half, matrix)
    inner = slice(probe.N_FFT, rate - probe.N_FFT)  # away from the edges the STFT's window does not cover fully
    assert np.allclose(out[inner], half[inner], atol=1e-4)  # one gain everywhere: nothing to average
    near_full = np.clip(5 * noisy, -0.95, 0.95).astype(np.float32)  # the input peaks at 0.95
    raised = np.clip(3 * near_full, -1, 1).astype(np.float32)  # an output louder than its input: gains up to the cap
    peak = float(np.abs(probe.band_smoothed(near_full, raised, matrix)).max())
    assert 0.99 < peak <= 1.0  # the gain of up to 1.5 reaches full scale (about 1.26 unclipped), and no further
