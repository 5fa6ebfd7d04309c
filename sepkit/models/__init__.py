"""Model registry and architectures (waveform in, ``n_src`` waveforms out)."""

from sepkit.models.base import SeparationModel, fit_length
from sepkit.models.registry import available_models, build_model, register_model

__all__ = ["SeparationModel", "available_models", "build_model", "fit_length", "register_model"]
