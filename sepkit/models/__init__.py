"""Model registry and architectures (waveform in, ``n_src`` waveforms out)."""

from sepkit.models.base import SeparationModel
from sepkit.models.registry import available_models, build_model, register_model

__all__ = ["SeparationModel", "available_models", "build_model", "register_model"]

# Importing the architectures registers them (heavy libraries load only when a model is built).
from sepkit.models import asteroid_models, cae_mae, fast_enhancer, filter_enhancer, sepformer, snr_estimator  # noqa: E402,F401
from sepkit.models import enhancer_snr  # noqa: E402,F401  (reads the SNR off a frozen enhancer)
from sepkit.models import stft_separator  # noqa: E402,F401  (BLSTM masks on the STFT)
# ssl_masker, ssl_blstm and ssl_encoder register on first use (registry.DEFERRED): sepkit.ssl imports the registry.
