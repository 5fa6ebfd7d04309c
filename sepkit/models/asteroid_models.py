"""Asteroid's separators behind sepkit's interface: ``(B, T)`` in, ``(B, n_src, T)`` out.

Each builder passes its keyword arguments straight to the asteroid class, so a config's
``args`` are asteroid's own (see asteroid's docs for their meaning and defaults). asteroid is
imported only when a model is built: it takes about a second to import.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn

from sepkit.errors import ModelError
from sepkit.models.base import fit_length
from sepkit.models.registry import register_model


class AsteroidSeparator(nn.Module):
    """An asteroid ``BaseEncoderMaskerDecoder`` with an int ``sample_rate``, ``n_src`` and exact output length."""

    def __init__(self, net: nn.Module, sample_rate: int, n_src: int) -> None:
        super().__init__()
        self.net = net
        self.sample_rate = int(sample_rate)
        self.n_src = int(n_src)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Separate ``(B, T)`` mixtures into ``(B, n_src, T)`` estimates."""
        return fit_length(self.net(wav), wav.shape[-1])


def _build(name: str, make: Callable[[], nn.Module], sample_rate: int, n_src: int) -> AsteroidSeparator:
    """Build an asteroid network, turning its complaints about bad arguments into one-line ModelErrors."""
    try:
        return AsteroidSeparator(make(), sample_rate, n_src)
    except (ValueError, AssertionError, KeyError) as exc:
        raise ModelError(f"bad arguments for architecture {name!r}: {exc}") from exc


@register_model("conv_tasnet")
def conv_tasnet(n_src: int = 2, sample_rate: int = 16000, **kwargs: Any) -> AsteroidSeparator:
    """Conv-TasNet (Luo & Mesgarani 2019); ``kwargs`` go to ``asteroid.models.ConvTasNet``."""
    from asteroid.models import ConvTasNet

    return _build("conv_tasnet", lambda: ConvTasNet(n_src=n_src, sample_rate=sample_rate, **kwargs), sample_rate, n_src)


@register_model("dprnn")
def dprnn(n_src: int = 2, sample_rate: int = 16000, **kwargs: Any) -> AsteroidSeparator:
    """Dual-path RNN TasNet (Luo et al. 2020); ``kwargs`` go to ``asteroid.models.DPRNNTasNet``."""
    from asteroid.models import DPRNNTasNet

    return _build("dprnn", lambda: DPRNNTasNet(n_src=n_src, sample_rate=sample_rate, **kwargs), sample_rate, n_src)


@register_model("sudormrf")
def sudormrf(n_src: int = 2, sample_rate: int = 16000, **kwargs: Any) -> AsteroidSeparator:
    """SuDoRM-RF (Tzinis et al. 2020); ``kwargs`` go to ``asteroid.models.SuDORMRFNet``."""
    from asteroid.models import SuDORMRFNet

    def make() -> nn.Module:
        net = SuDORMRFNet(n_src=n_src, sample_rate=sample_rate, **kwargs)
        # asteroid's padding wrapper registers the encoder's filterbank a second time, so the state
        # dict holds one tensor under two names, which safetensors refuses: keep it as a plain attribute
        padder = net.encoder
        object.__setattr__(padder, "filterbank", padder._modules.pop("filterbank"))
        return net

    return _build("sudormrf", make, sample_rate, n_src)


@register_model("dccrn")
def dccrn(architecture: str = "DCCRN-CL", n_src: int = 1, sample_rate: int = 16000, **kwargs: Any) -> AsteroidSeparator:
    """DCCRN (Hu et al. 2020), ``architecture`` "DCCRN-CL" or "mini"; ``kwargs`` go to ``asteroid.models.DCCRNet``."""
    from asteroid.models import DCCRNet

    def make() -> nn.Module:
        with _int_sized_dccrn_rnn():
            return DCCRNet(architecture, n_src=n_src, sample_rate=sample_rate, **kwargs)

    return _build("dccrn", make, sample_rate, n_src)


@contextlib.contextmanager
def _int_sized_dccrn_rnn() -> Iterator[None]:
    """Work around asteroid 0.7 on torch 2.11: DCCRMaskNet sizes its LSTM with ``np.prod`` (a
    numpy int), which ``nn.LSTM`` now rejects. While building, swap in a subclass that casts it."""
    from asteroid.masknn import recurrent

    original = recurrent.DCCRMaskNetRNN

    class IntSizedDCCRMaskNetRNN(original):  # type: ignore[misc, valid-type]
        def __init__(self, in_size: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(int(in_size), *args, **kwargs)

    recurrent.DCCRMaskNetRNN = IntSizedDCCRMaskNetRNN
    try:
        yield
    finally:
        recurrent.DCCRMaskNetRNN = original
