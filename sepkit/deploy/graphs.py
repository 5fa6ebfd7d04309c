"""Exportable forms of sepkit models: ``(B, T)`` waveform in, ``(B, K, T)`` out, real arithmetic only.

A model whose forward is already plain tensor maths (Conv-TasNet and asteroid's other separators) exports
as it is. The STFT models compute with complex tensors and (the causal enhancers) a running mean by
``lfilter``, which ONNX lacks, so each has a graph module here that reuses the model's own layers
(``network``, ``shape_gain``, the BLSTM and head) and re-expresses only those steps: the STFT as
convolutions (``stft_conv``), complex products as pairs of real ones, and the causal running mean as a
product with a lower-triangular matrix of decaying weights (exact, quadratic in the frames of one
call: the engine feeds a graph chunks of ``chunk_seconds``). ``tests/test_onnx.py`` checks every one
against its model.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from sepkit.deploy.stft_conv import ConvIstft, ConvStft
from sepkit.models import fast_enhancer, stft_separator
from sepkit.models.fast_enhancer import FastEnhancer
from sepkit.models.filter_enhancer import FilterEnhancer
from sepkit.models.noise_floor import above_floor
from sepkit.models.stft_separator import StftSeparator


def running_mean(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """``causal_running_mean`` along the last axis as one matrix product: weight ``(1 - alpha) alpha^(t - k)``, k <= t."""
    t = torch.arange(x.shape[-1], dtype=x.dtype, device=x.device)
    lag = t[:, None] - t[None, :]
    weights = torch.where(lag >= 0, (1.0 - alpha) * alpha ** lag.clamp_min(0.0), torch.zeros_like(lag))
    return (x @ weights.transpose(0, 1)) / (1.0 - alpha ** (t + 1.0))


def bounded(re: torch.Tensor, im: torch.Tensor, limit: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``bounded_complex`` on a real and an imaginary part: magnitude squashed below ``limit`` by tanh, phase kept."""
    magnitude = torch.sqrt(re.square() + im.square()).clamp_min(1e-8)
    scale = limit * torch.tanh(magnitude) / magnitude
    return re * scale, im * scale


class EnhancerGraph(nn.Module):
    """``fast_enhancer`` / ``filter_enhancer``: STFT, level-free features, GRU, mask or frame filter, iSTFT."""

    def __init__(self, net: FastEnhancer | FilterEnhancer) -> None:
        super().__init__()
        self.net = net
        self.floor = fast_enhancer._POWER_FLOOR
        self.stft = ConvStft(net.n_fft, net.hop, net.window)
        self.istft = ConvIstft(net.n_fft, net.hop, net.window)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        lag = int(getattr(self.net, "lookahead_frames", 0))
        re, im = self.stft(nn.functional.pad(wav, (0, lag * self.net.hop)))  # look-ahead: L more frames
        power = re.square() + im.square() + self.floor
        log_power = torch.log(power)
        normed = log_power - running_mean(log_power, self.net.alpha)
        feats = (normed * self.net.feat_scale[:, None] + self.net.feat_bias[:, None]).transpose(1, 2)
        extra, frames = None, feats.shape[1] - lag
        if lag:  # the GRU hears frame t - L, and frames t - L + 1 .. t through `ahead` (filter_enhancer.taps)
            extra = self.net.ahead(torch.cat([feats[:, k + 1 : k + 1 + frames] for k in range(lag)], dim=-1))
        window = int(getattr(self.net, "floor_window", 0))
        if window:  # and each bin's height above its noise floor with the frame it hears (filter_enhancer.taps)
            smoothed = torch.log(running_mean(power, self.net.floor_alpha))
            heard = self.net.floor_in(above_floor(log_power, smoothed, window)[..., :frames].transpose(1, 2))
            extra = heard if extra is None else extra + heard
        if int(getattr(self.net, "context_channels", 0)):  # and the context of the newest frame (filter_enhancer.taps)
            context = self.net.spectral_context(feats)[:, lag:]
            extra = context if extra is None else extra + context
        out, _ = self.net.network(feats[:, :frames], None, extra)  # (B, frames, F·c)
        est_re, est_im = self._filter(out, re, im)
        return self.istft(est_re, est_im, wav.shape[-1])[:, None]

    def _filter(self, out: torch.Tensor, re: torch.Tensor, im: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        net = self.net
        if isinstance(net, FilterEnhancer):
            taps = out.unflatten(-1, (-1, net.taps_per_bin, 2)).permute(0, 2, 1, 3, 4)  # (B, F, frames, taps, 2)
            tap_re, tap_im = bounded(taps[..., 0], taps[..., 1], net.tap_max)
            reach, frames = net.taps_per_bin - 1, out.shape[1]  # re, im hold L more frames than the output
            past_re = nn.functional.pad(re, (net.order - 1, 0))  # zero frames before the first, as apply_frame_filter
            past_im = nn.functional.pad(im, (net.order - 1, 0))
            est_re, est_im = torch.zeros_like(re[..., :frames]), torch.zeros_like(im[..., :frames])
            for k in range(net.taps_per_bin):  # tap k of output frame j meets input frame j + L - k
                x_re, x_im = past_re[..., reach - k : reach - k + frames], past_im[..., reach - k : reach - k + frames]
                est_re = est_re + tap_re[..., k] * x_re - tap_im[..., k] * x_im
                est_im = est_im + tap_re[..., k] * x_im + tap_im[..., k] * x_re
            return est_re, est_im
        out = out.transpose(1, 2)  # (B, F·c, frames)
        if net.mask == "real":
            gain = net.shape_gain(net.mask_max * torch.sigmoid(out))
            return re * gain, im * gain
        m_re, m_im = bounded(*out.unflatten(1, (-1, 2)).unbind(2), net.mask_max)
        return re * m_re - im * m_im, re * m_im + im * m_re


class StftSeparatorGraph(nn.Module):
    """``stft_separator``: STFT, RMS-normalised log1p magnitudes, BLSTM, one mask per source, iSTFT."""

    def __init__(self, net: StftSeparator) -> None:
        super().__init__()
        self.net = net
        self.stft = ConvStft(net.n_fft, net.hop, net.window)
        self.istft = ConvIstft(net.n_fft, net.hop, net.window)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        net = self.net
        re, im = self.stft(wav)
        magnitude = torch.sqrt(re.square() + im.square())
        scale = magnitude.square().mean((1, 2), keepdim=True).sqrt().clamp_min(stft_separator._SCALE_FLOOR)
        feats = (torch.log1p(magnitude / scale) * net.feat_scale[:, None] + net.feat_bias[:, None]).transpose(1, 2)
        hidden, _ = net.blstm(feats)
        out = net.head(hidden).unflatten(-1, (net.n_src, net.n_freqs, net.per_bin)).permute(0, 2, 3, 1, 4)
        re, im = re[:, None], im[:, None]  # (B, 1, F, frames) against masks (B, S, F, frames)
        if net.mask == "magnitude":
            gain = net.mask_max * torch.sigmoid(out[..., 0])
            est_re, est_im = re * gain, im * gain
        else:
            m_re, m_im = bounded(out[..., 0], out[..., 1], net.mask_max)
            est_re, est_im = re * m_re - im * m_im, re * m_im + im * m_re
        est = self.istft(est_re.flatten(0, 1), est_im.flatten(0, 1), wav.shape[-1])
        return est.unflatten(0, (-1, net.n_src))


def graph_for(net: nn.Module) -> nn.Module:
    """The exportable form of ``net``: its graph module, or the network itself when that is plain tensor maths."""
    if isinstance(net, (FastEnhancer, FilterEnhancer)):
        return EnhancerGraph(net)
    if isinstance(net, StftSeparator):
        return StftSeparatorGraph(net)
    return net
