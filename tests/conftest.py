"""Shared fixtures: small models built here (never shipped), and audio files made on the fly."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
import soundfile as sf
import torch

from sepkit_fixtures import export_test_model, speechlike

# one thread per xdist worker (the CI machine has 2 cores), both threads otherwise
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def own_score_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own ``sepkit evaluate`` score cache: no test reuses another's scores or writes to ~/.cache."""
    monkeypatch.setenv("SEPKIT_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a module's tests (``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def enh_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_test_model(tmp_path_factory.mktemp("models") / "test-enh")


@pytest.fixture(scope="session")
def sep_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_test_model(tmp_path_factory.mktemp("models") / "test-sep2", task="separate", n_src=2)


@pytest.fixture
def make_wav(tmp_path: Path):
    """Write a speech-like file: make_wav(name, seconds=1.0, sr=16000, channels=1, subtype='PCM_16')."""

    def make(
        name: str, seconds: float = 1.0, sr: int = 16000, channels: int = 1, subtype: str = "PCM_16", seed: int = 0
    ) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, speechlike(seconds, sr, seed, channels).T, sr, subtype=subtype)
        return path

    return make
