"""User-facing errors: each carries one line that names the file and the problem.

The CLI prints these without a traceback and exits with code 2; anything else is a bug.
"""

from __future__ import annotations


class SepkitError(Exception):
    """A problem with the user's input or request, reported as one line."""

    exit_code = 2


class AudioError(SepkitError):
    """An audio file that is missing, unreadable, empty or holds non-finite samples."""


class OutputError(SepkitError):
    """An output path that would overwrite an input, already exists, or cannot be written."""


class ModelError(SepkitError):
    """An unknown model name, a broken model directory, or a model used for the wrong task."""


class ManifestError(SepkitError):
    """A manifest that is malformed or lists missing or corrupt audio files."""


class ConfigError(SepkitError):
    """A training or recipe configuration that is malformed or names unknown parts."""


class TrainingError(SepkitError):
    """A training run that cannot go on, such as one whose loss has become NaN or infinite."""
