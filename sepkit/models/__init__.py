"""Model registry and architectures (waveform in, ``n_src`` waveforms out)."""

from sepkit.models.base import SeparationModel, fit_length
from sepkit.models.registry import available_models, build_model, register_model

__all__ = ["SeparationModel", "available_models", "build_model", "fit_length", "register_model"]

# Importing the architectures registers them (heavy libraries load only when a model is built).
from sepkit.models import asteroid_models, cae_mae, fast_enhancer, filter_enhancer, sepformer, snr_estimator  # noqa: E402,F401
from sepkit.models import enhancer_snr  # noqa: E402,F401  (reads the SNR off a fast_enhancer)
from sepkit.models import stft_separator  # noqa: E402,F401  (BLSTM masks on the STFT)
from sepkit.models import ssl_blstm, ssl_masker  # noqa: E402,F401  (SSL front-end heads)
from sepkit.ssl import encoder as _ssl_encoder  # noqa: E402,F401  (arch ssl_encoder)
