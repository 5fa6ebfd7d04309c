"""Model registry and architectures (waveform in, ``n_src`` waveforms out)."""

from sepkit.models.base import SeparationModel, fit_length
from sepkit.models.registry import available_models, build_model, register_model

__all__ = ["SeparationModel", "available_models", "build_model", "fit_length", "register_model"]

# Importing the architectures registers them (heavy libraries load only when a model is built).
from sepkit.models import asteroid_models, fast_enhancer, sepformer  # noqa: E402,F401
