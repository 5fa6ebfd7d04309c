"""The test-set audio digest: the same decoded samples give the same digest, any change of sample or name another."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepkit.errors import AudioError
from sepkit.metrics.fingerprint import folder_digest

SR = 16000


def _write_set(root: Path, ext: str = "wav", subtype: str = "PCM_16", bump: int | None = None) -> Path:
    """mix/ and s1/ for two items of 16-bit-exact samples; ``bump`` raises one mixture sample by one LSB."""
    rng = np.random.default_rng(0)
    for i in range(2):
        clean = np.round(rng.uniform(-0.5, 0.5, SR // 2) * 32768) / 32768
        mix = clean + np.round(rng.uniform(-0.1, 0.1, SR // 2) * 32768) / 32768
        if bump == i:
            mix[100] += 1 / 32768
        for folder, audio in (("mix", mix), ("s1", clean)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            sf.write(root / folder / f"u{i}.{ext}", audio, SR, subtype=subtype)
    return root


def test_digest_follows_the_samples_not_the_file_format(tmp_path: Path) -> None:
    wav = _write_set(tmp_path / "wav")
    flac = _write_set(tmp_path / "flac", ext="flac")
    as_float = _write_set(tmp_path / "float", subtype="FLOAT")
    digest = folder_digest(wav / "mix", wav / "s1")
    assert len(digest) == 64
    assert folder_digest(wav / "mix", wav / "s1") == digest  # repeatable
    assert folder_digest(flac / "mix", flac / "s1") == digest  # a lossless re-encoding keeps it
    assert folder_digest(as_float / "mix", as_float / "s1") == digest  # the same values as 32-bit float


def test_digest_changes_with_one_sample_a_name_or_a_reference(tmp_path: Path) -> None:
    base = _write_set(tmp_path / "base")
    digest = folder_digest(base / "mix", base / "s1")
    bumped = _write_set(tmp_path / "bumped", bump=1)
    assert folder_digest(bumped / "mix", bumped / "s1") != digest
    renamed = _write_set(tmp_path / "renamed")
    for folder in ("mix", "s1"):
        (renamed / folder / "u1.wav").rename(renamed / folder / "u9.wav")
    assert folder_digest(renamed / "mix", renamed / "s1") != digest
    assert folder_digest(base / "mix", base / "mix") != digest  # other references, other set


def test_a_mixture_without_reference_is_a_one_line_error(tmp_path: Path) -> None:
    root = _write_set(tmp_path)
    (root / "s1" / "u0.wav").unlink()
    with pytest.raises(AudioError, match="no reference 'u0'"):
        folder_digest(root / "mix", root / "s1")
