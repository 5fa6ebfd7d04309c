"""Which files go into the package; pyproject.toml holds everything else.

The shipped models stay in the repository's top-level pretrained/ and travel in the wheel as the
data-only package sepkit.shipped_models (found by sepkit/pretrained.py). pyproject.toml cannot both
discover packages and add one mapped from another folder, hence this file.
"""

from setuptools import find_namespace_packages, setup

MODELS_PACKAGE = "sepkit.shipped_models"

setup(
    packages=[*find_namespace_packages(include=["sepkit", "sepkit.*"]), MODELS_PACKAGE],
    package_dir={MODELS_PACKAGE: "pretrained"},
    package_data={MODELS_PACKAGE: ["*/model.safetensors", "*/config.json", "*/CARD.md", "*/curves.png"]},
)
