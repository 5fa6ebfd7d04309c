"""Metrics equal their reference packages; matching, improvements and parallel scoring behave."""

from __future__ import annotations

from pathlib import Path

import fast_bss_eval
import numpy as np
import pystoi
import pytest
import soundfile as sf
import torch
import torchaudio
from pesq import pesq as ref_pesq
from speechmos import dnsmos as ref_dnsmos

from sepkit.errors import ConfigError
from sepkit.metrics import (
    MetricWarning,
    ScorePair,
    best_permutation,
    pairwise_scores,
    dnsmos,
    estoi,
    get_metrics,
    metric_columns,
    pesq,
    score_pairs,
    score_signals,
    sdr,
    si_sdr,
    si_sdr_torch,
    stoi,
)
from sepkit_fixtures import speechlike

SR = 16000


def noisy(x: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    """``x`` plus white noise at ``snr_db``."""
    n = np.random.default_rng(seed).standard_normal(x.shape)
    return (x + n * np.sqrt((x**2).mean() / (n**2).mean() / 10 ** (snr_db / 10))).astype(np.float32)


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    ref = speechlike(3.0, SR, seed=0)[0]
    return noisy(ref, 10.0), ref


def si_sdr_float64(est: np.ndarray, ref: np.ndarray) -> float:
    """Textbook SI-SDR (Le Roux et al. 2019) in float64, no epsilon."""
    e, r = est.astype(np.float64), ref.astype(np.float64)
    e, r = e - e.mean(), r - r.mean()
    target = (e @ r) / (r @ r) * r
    return float(10 * np.log10((target @ target) / ((e - target) @ (e - target))))


def test_si_sdr_equals_references(pair: tuple[np.ndarray, np.ndarray]) -> None:
    from asteroid.losses import pairwise_neg_sisdr
    from torchmetrics.functional import scale_invariant_signal_distortion_ratio

    est, ref = pair
    value = si_sdr(est, ref)
    assert isinstance(value, float)
    assert value == pytest.approx(si_sdr_float64(est, ref), abs=1e-9)
    tm = scale_invariant_signal_distortion_ratio(
        torch.from_numpy(est).double(), torch.from_numpy(ref).double(), zero_mean=True
    )
    assert value == pytest.approx(float(tm), abs=1e-9)
    ast = -pairwise_neg_sisdr(torch.from_numpy(est).double()[None, None], torch.from_numpy(ref).double()[None, None])
    assert value == pytest.approx(float(ast), abs=1e-4)  # asteroid adds 1e-8 in its ratios


def test_si_sdr_torch_matches_numpy_batched_and_differentiable() -> None:
    refs = np.stack([speechlike(1.0, SR, seed=s)[0] for s in range(6)]).reshape(2, 3, -1)
    ests = noisy(refs, 5.0)
    expected = si_sdr(ests, refs)
    assert expected.shape == (2, 3)
    est_t = torch.from_numpy(ests).requires_grad_()
    got = si_sdr_torch(est_t, torch.from_numpy(refs))
    assert got.shape == (2, 3) and got.dtype == torch.float32
    np.testing.assert_allclose(got.detach().numpy(), expected, atol=1e-4)
    got.sum().backward()
    assert est_t.grad is not None and torch.isfinite(est_t.grad).all()
    assert float(si_sdr_torch(torch.from_numpy(ests).double(), torch.from_numpy(refs).double())[1, 2]) == pytest.approx(
        expected[1, 2], abs=1e-9
    )


def test_si_sdr_is_scale_invariant_and_crops_to_shorter(pair: tuple[np.ndarray, np.ndarray]) -> None:
    est, ref = pair
    assert si_sdr(3.0 * est, ref) == pytest.approx(si_sdr(est, ref), abs=1e-6)
    longer = np.concatenate([est, np.ones(500, np.float32)])
    assert si_sdr(longer, ref) == si_sdr(est, ref)
    assert np.isfinite(si_sdr(ref, ref)) and si_sdr(ref, ref) > 100


def test_sdr_equals_fast_bss_eval_and_agrees_with_mir_eval() -> None:
    import mir_eval

    ref = speechlike(3.0, SR, seed=3)[0].astype(np.float64)
    rir = np.exp(-np.arange(256) / 40.0) * np.random.default_rng(2).standard_normal(256)
    rir[0] = 1.0
    est = noisy(np.convolve(ref, rir)[: ref.size].astype(np.float32), 15.0).astype(np.float64)
    value = sdr(est, ref)
    assert value == float(fast_bss_eval.sdr(ref[None], est[None])[0])
    with pytest.warns(FutureWarning):  # bss_eval_sources is deprecated in mir_eval 0.8
        expected = mir_eval.separation.bss_eval_sources(ref[None], est[None])[0][0]
    assert value == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize("rate, mode", [(16000, "wb"), (8000, "nb")])
def test_pesq_equals_pesq_package(rate: int, mode: str) -> None:
    ref = speechlike(3.0, rate, seed=4)[0]
    est = noisy(ref, 10.0)
    assert pesq(est, ref, rate) == ref_pesq(rate, ref, est, mode)


def test_pesq_resamples_other_rates_to_16k_wideband() -> None:
    ref = speechlike(3.0, 22050, seed=5)[0]
    est = noisy(ref, 10.0)
    to16 = [torchaudio.functional.resample(torch.from_numpy(x).double(), 22050, 16000).numpy() for x in (ref, est)]
    assert pesq(est, ref, 22050) == pytest.approx(ref_pesq(16000, to16[0], to16[1], "wb"), abs=1e-6)
    nb = [torchaudio.functional.resample(torch.from_numpy(x).double(), 22050, 8000).numpy() for x in (ref, est)]
    assert pesq(est, ref, 22050, mode="nb") == pytest.approx(ref_pesq(8000, nb[0], nb[1], "nb"), abs=1e-6)


def test_pesq_stoi_sdr_undefined_inputs_are_nan_with_warning(pair: tuple[np.ndarray, np.ndarray]) -> None:
    est, ref = pair
    faint = 1e-3 * np.random.default_rng(0).standard_normal(3 * SR)
    with pytest.warns(MetricWarning, match="no utterance"):
        assert np.isnan(pesq(faint, np.zeros(3 * SR), SR))
    with pytest.warns(MetricWarning, match="silent estimate"):
        assert np.isnan(pesq(np.zeros_like(est), ref, SR))  # the pesq package would raise a ValueError
    with pytest.warns(MetricWarning, match="at least 0.40 s"):
        assert np.isnan(stoi(est[:4000], ref[:4000], SR))  # pystoi would return 1e-5
    with pytest.warns(MetricWarning, match="silent estimate"):
        assert np.isnan(sdr(np.zeros_like(est), ref))  # fast_bss_eval would raise


def test_stoi_and_estoi_equal_pystoi(pair: tuple[np.ndarray, np.ndarray]) -> None:
    est, ref = pair
    assert stoi(est, ref, SR) == pystoi.stoi(ref.astype(np.float64), est.astype(np.float64), SR)
    np.random.seed(0)  # pystoi's ESTOI dithers with the global RNG; sepkit seeds it with 0
    assert estoi(est, ref, SR) == pystoi.stoi(ref.astype(np.float64), est.astype(np.float64), SR, extended=True)
    assert estoi(est, ref, SR) == estoi(est, ref, SR)
    est8, ref8 = noisy(speechlike(3.0, 8000, seed=6)[0], 5.0), speechlike(3.0, 8000, seed=6)[0]
    assert stoi(est8, ref8, 8000) == pystoi.stoi(ref8.astype(np.float64), est8.astype(np.float64), 8000)


def test_dnsmos_equals_speechmos_and_rescales_loud_input() -> None:
    est = noisy(speechlike(1.2, SR, seed=7)[0], 10.0)  # repeated to 9.6 s: one model window
    expected = ref_dnsmos.run(est, SR)
    got = dnsmos(est, SR)
    assert got == {k: pytest.approx(float(expected[f"{k}_mos"]), abs=1e-6) for k in ("ovrl", "sig", "bak", "p808")}
    loud = est * (2.0 / np.abs(est).max())
    with pytest.warns(MetricWarning, match="peak"):
        assert dnsmos(loud, SR)["sig"] == pytest.approx(float(ref_dnsmos.run(loud / 2.0, SR)["sig_mos"]), abs=1e-5)
    broken = est.copy()
    broken[100] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        dnsmos(broken, SR)


def test_best_permutation_recovers_a_shuffle() -> None:
    refs = np.stack([speechlike(1.0, SR, seed=s)[0] for s in (10, 11, 12)])
    order = np.array([2, 0, 1])
    ests = noisy(refs[order], 5.0)
    perm = best_permutation(ests, refs)
    np.testing.assert_array_equal(ests[perm], ests[np.argsort(order)])
    np.testing.assert_array_equal(order[perm], [0, 1, 2])


def test_best_permutation_is_the_pit_search_on_the_metric() -> None:
    from sepkit.losses import best_assignment

    refs = np.stack([speechlike(1.0, SR, seed=s)[0] for s in (13, 14, 15)])
    ests = np.concatenate([noisy(refs[::-1], 3.0), np.zeros((3, refs.shape[1]), np.float32)])  # 6 estimates
    scores = pairwise_scores(ests, refs)
    for solver in ("exhaustive", "hungarian"):
        got = best_assignment(torch.from_numpy(-scores.T.copy())[None], solver)[0].numpy()
        np.testing.assert_array_equal(got, best_permutation(ests, refs))
    np.testing.assert_array_equal(best_permutation(ests, refs), [2, 1, 0])  # the silent estimates are left out


def test_si_sdr_of_a_silent_estimate_or_reference_is_defined() -> None:
    ref = speechlike(1.0, SR, seed=5)[0]
    silent = np.zeros_like(ref)
    assert si_sdr(silent, ref) == 0.0  # torchmetrics' value: the epsilons make the ratio 1
    assert float(si_sdr_torch(torch.zeros(2, 100), torch.randn(2, 100)).max()) == 0.0
    low = si_sdr(ref, silent)
    assert np.isfinite(low) and low < -100
    assert si_sdr(silent, silent) == 0.0


def test_score_signals_matches_sources_and_reports_improvements() -> None:
    refs = np.stack([speechlike(2.0, SR, seed=s)[0] for s in (20, 21)])
    mix = refs.sum(0)
    ests = noisy(refs[::-1], 10.0)  # swapped
    row = score_signals(ests, refs, SR, "si_sdr,sdr,stoi", mix=mix)
    assert row["perm"] == [2, 1]
    assert row["si_sdr"] == pytest.approx(np.mean([si_sdr(ests[1], refs[0]), si_sdr(ests[0], refs[1])]))
    assert row["si_sdri"] == pytest.approx(row["si_sdr"] - np.mean([si_sdr(mix, r) for r in refs]))
    assert row["sdri"] == pytest.approx(row["sdr"] - np.mean([sdr(mix, r) for r in refs]))
    assert list(row) == ["perm", "si_sdr", "si_sdri", "sdr", "sdri", "stoi"]


def test_score_signals_averages_channels_and_broadcasts_mono() -> None:
    ref = speechlike(1.0, SR, seed=30, channels=2)
    est = noisy(ref, 8.0)
    row = score_signals(est[None], ref[None], SR, ["si_sdr"])
    assert row["si_sdr"] == pytest.approx(np.mean([si_sdr(est[c], ref[c]) for c in range(2)]))
    mono = score_signals(est[None, :1], ref[None], SR, ["si_sdr"])
    assert mono["si_sdr"] == pytest.approx(np.mean([si_sdr(est[0], ref[c]) for c in range(2)]))


def test_registry_names_columns_and_errors() -> None:
    ms = get_metrics("si_sdr, dnsmos,si_sdr")
    assert [m.name for m in ms] == ["si_sdr", "dnsmos"]
    assert metric_columns(ms, with_mix=True) == [
        "si_sdr",
        "si_sdri",
        "dnsmos_ovrl",
        "dnsmos_sig",
        "dnsmos_bak",
        "dnsmos_p808",
    ]
    with pytest.raises(ConfigError, match="unknown metric 'si_sdri'.*mixture is given"):
        get_metrics("si_sdri")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_every_metric_scores_a_non_finite_estimate_nan_with_a_warning(
    pair: tuple[np.ndarray, np.ndarray], bad: float
) -> None:
    """A diverged model's output: PESQ and BSS-eval would raise on it (so a validation stopped with an internal
    error), DNSMOS refuses it; every metric gives NaN in each of its columns instead."""
    est, ref = pair
    spoilt = est.copy()
    spoilt[100] = bad
    for metric in get_metrics("si_sdr,sdr,pesq,stoi,estoi,dnsmos"):
        with pytest.warns(MetricWarning, match="NaN or infinite samples"):
            scores = metric.compute(spoilt, ref, SR)
        assert list(scores) == list(metric.columns) and all(np.isnan(v) for v in scores.values()), metric.name


def _write_pairs(root: Path, n: int) -> list[ScorePair]:
    pairs = []
    for i in range(n):
        ref = speechlike(1.5, SR, seed=40 + i)[0]
        paths = [root / f"est{i}.wav", root / f"ref{i}.wav"]
        sf.write(paths[0], noisy(ref, 5.0 + i, seed=i), SR, subtype="FLOAT")
        sf.write(paths[1], ref, SR, subtype="FLOAT")
        pairs.append(ScorePair(f"u{i}", (paths[0],), (paths[1],)))
    return pairs


def test_score_pairs_parallel_equals_serial(tmp_path: Path) -> None:
    pairs = _write_pairs(tmp_path, 4)
    ticks: list[tuple[int, int]] = []
    serial = score_pairs(pairs, "si_sdr,sdr,pesq,estoi", jobs=1, progress=lambda d, t: ticks.append((d, t)))
    parallel = score_pairs(pairs, "si_sdr,sdr,pesq,estoi", jobs=2)
    assert ticks == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [r["name"] for r in parallel.rows] == ["u0", "u1", "u2", "u3"]
    for p_row, s_row in zip(parallel.rows, serial.rows):  # workers use 1 BLAS thread: last digits may differ
        assert p_row == {k: pytest.approx(v, rel=1e-9) if isinstance(v, float) else v for k, v in s_row.items()}
    assert serial.counts == {c: 4 for c in serial.columns}
    assert serial.means["si_sdr"] == pytest.approx(np.mean([r["si_sdr"] for r in serial.rows]))
    assert serial.rows[0]["si_sdr"] == pytest.approx(si_sdr(sf.read(pairs[0].ests[0])[0], sf.read(pairs[0].refs[0])[0]))
