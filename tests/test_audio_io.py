"""Audio layer: formats, bit depths, channels, validation and atomic clip-safe writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepkit.audio import AtomicAudioWriter, audio_info, check_output, expand_inputs, read_audio, write_audio
from sepkit.errors import AudioError, OutputError


@pytest.mark.parametrize(
    "ext,subtype",
    [
        (".wav", "PCM_16"),
        (".wav", "PCM_24"),
        (".wav", "PCM_32"),
        (".wav", "FLOAT"),
        (".flac", "PCM_24"),
        (".ogg", "VORBIS"),
    ],
)
def test_reads_common_formats(make_wav, ext: str, subtype: str) -> None:
    path = make_wav(f"a{ext}", seconds=0.5, sr=22050, channels=2, subtype=subtype)
    audio, sr = read_audio(path)
    assert sr == 22050 and audio.shape[0] == 2 and audio.dtype == np.float32
    ref, _ = sf.read(path, dtype="float32", always_2d=True)
    np.testing.assert_array_equal(audio, ref.T)


def test_missing_folder_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file"):
        audio_info(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a folder"):
        audio_info(tmp_path)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty file"):
        audio_info(tmp_path / "empty.wav")
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(AudioError, match="zero length"):
        read_audio(tmp_path / "zero.wav")
    (tmp_path / "text.wav").write_text("this is not audio at all\n" * 20)
    with pytest.raises(AudioError, match="not a readable audio file"):
        read_audio(tmp_path / "text.wav")


def test_truncated_file_is_rejected(make_wav) -> None:
    path = make_wav("t.flac", seconds=2.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="t.flac"):
        read_audio(path)


@pytest.mark.parametrize("keep_bytes", [100, 20000])
def test_wav_cut_short_is_rejected_though_libsndfile_shortens_it(make_wav, keep_bytes: int) -> None:
    path = make_wav("t.wav", seconds=1.0)  # 32 000 bytes of 16-bit data
    path.write_bytes(path.read_bytes()[:keep_bytes])
    assert sf.info(str(path)).frames > 0  # libsndfile alone would accept the stump
    with pytest.raises(AudioError, match="t.wav: truncated: the header declares 32000 bytes"):
        read_audio(path)


def test_wav_with_streaming_size_placeholder_is_read(make_wav) -> None:
    path = make_wav("s.wav", seconds=0.5)
    data = bytearray(path.read_bytes())
    at = data.index(b"data") + 4
    data[at : at + 4] = (0xFFFFFFFF).to_bytes(4, "little")  # what a recorder that never finished the header writes
    path.write_bytes(bytes(data))
    audio, _ = read_audio(path)
    assert audio.shape[1] == 8000


def test_nan_samples_are_rejected(tmp_path: Path) -> None:
    x = np.zeros((1000, 1), np.float32)
    x[500] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN or Inf"):
        read_audio(tmp_path / "nan.wav")


def test_write_is_clip_safe_and_keeps_24_bit(tmp_path: Path) -> None:
    x = np.array([[0.0, 1.5, -2.0, 0.25]], np.float32)
    out = write_audio(tmp_path / "c.wav", x, 16000, subtype="PCM_24")
    y, _ = read_audio(out)
    assert sf.info(out).subtype == "PCM_24"
    assert y.max() <= 1.0 and y.min() >= -1.0 and y[0, 1] > 0.99 and y[0, 2] < -0.99  # clipped, not wrapped
    assert abs(y[0, 3] - 0.25) < 1e-6


def test_atomic_writer_leaves_nothing_on_failure(tmp_path: Path) -> None:
    dst = tmp_path / "out.wav"
    with pytest.raises(RuntimeError):
        with AtomicAudioWriter(dst, 16000, 1) as w:
            w.write(np.zeros((1, 100), np.float32))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_check_output_refuses_input_and_existing(make_wav, tmp_path: Path) -> None:
    src = make_wav("in.wav")
    with pytest.raises(OutputError, match="is the input"):
        check_output(src, [src], force=True)
    with pytest.raises(OutputError, match="is the input"):
        check_output(tmp_path / "." / "in.wav", [src], force=True)
    other = make_wav("other.wav")
    with pytest.raises(OutputError, match="already exists"):
        check_output(other, [src], force=False)
    assert check_output(other, [src], force=True) == other
    with pytest.raises(OutputError, match="unsupported output format"):
        check_output(tmp_path / "x.xyz", [src], force=False)


def test_expand_inputs_files_globs_folders(make_wav, tmp_path: Path) -> None:
    a = make_wav("d/a.wav")
    b = make_wav("d/sub/b.flac")
    (tmp_path / "d" / "notes.txt").write_text("x")
    files, errors = expand_inputs([str(tmp_path / "d"), str(tmp_path / "d" / "*.wav"), str(tmp_path / "missing.wav")])
    assert [f for f, _ in files] == [a, b]  # duplicates from the glob are dropped
    assert [str(r) for _, r in files] == ["a.wav", "sub/b.flac"]
    assert len(errors) == 1 and "missing.wav" in errors[0]


def test_float_wav_bytes_depend_only_on_the_audio(tmp_path: Path) -> None:
    """libsndfile's PEAK chunk stamps the write time; without it, equal audio gives equal bytes."""
    import time

    audio = np.random.default_rng(0).standard_normal(800).astype(np.float32) * 0.1
    a = write_audio(tmp_path / "a.wav", audio, 16000, "FLOAT").read_bytes()
    time.sleep(1.1)  # the chunk's timestamp has one-second resolution
    b = write_audio(tmp_path / "b.wav", audio, 16000, "FLOAT").read_bytes()
    assert a == b and b"PEAK" not in a
    back, sr = sf.read(tmp_path / "a.wav", dtype="float32")
    assert sr == 16000 and np.array_equal(back, audio)


def test_outputs_get_the_permissions_of_any_new_file(tmp_path: Path) -> None:
    """Atomic writes go through a temporary file; the result must not keep its owner-only mode."""
    import os

    old = os.umask(0o022)
    try:
        out = write_audio(tmp_path / "out.wav", np.zeros(160, np.float32), 16000)
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644
