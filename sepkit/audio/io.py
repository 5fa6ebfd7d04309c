"""Reading and writing audio with soundfile: validated reads, block reads, atomic clip-safe writes.

Everything libsndfile reads is accepted (wav int16/24/32 and float, flac, ogg, ...). Arrays are
channels-first ``(channels, frames)`` float32. A write goes to a temporary file in the target
folder and is renamed into place only when complete, so no partial output is ever left behind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from sepkit.atomic import AtomicFile, AtomicOutput
from sepkit.errors import AudioError, OutputError

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64"}
)


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header."""

    path: Path
    frames: int
    sample_rate: int
    channels: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def audio_info(path: str | os.PathLike[str]) -> AudioInfo:
    """Header of an audio file, or an ``AudioError`` that says why it is not usable audio."""
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, expected an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: empty file (0 bytes)")
    try:
        info = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{p}: not a readable audio file ({_short(exc)})") from exc
    frames = int(info.frames)
    if frames <= 0:
        raise AudioError(f"{p}: holds no audio samples (zero length)")
    if info.samplerate <= 0:
        raise AudioError(f"{p}: invalid sample rate {info.samplerate}")
    if info.format == "WAV":
        _check_wav_data_size(p)
    return AudioInfo(p, frames, int(info.samplerate), int(info.channels), info.format, info.subtype)


def read_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Whole file as float32 ``(channels, frames)`` and its sample rate; checked for truncation and NaN/Inf."""
    info = audio_info(path)
    blocks = list(iter_blocks(info, block_frames=max(info.frames, 1)))
    audio = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    return audio, info.sample_rate


_STREAMING_SIZES = (0, 0xFFFFFFFF)  # written by recorders that never go back to fill in the size


def _check_wav_data_size(path: Path) -> None:
    """Refuse a RIFF/WAVE file whose data chunk claims more bytes than the file holds.

    libsndfile silently shortens such a file to what is there, so a copy cut off mid-transfer
    would otherwise be processed as if it were whole.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(4) != b"RIFF" or (f.read(4), f.read(4))[1] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            head = f.read(8)
            chunk, length = head[:4], int.from_bytes(head[4:], "little")
            if chunk == b"data":
                present = size - (pos + 8)
                if length not in _STREAMING_SIZES and length > present:
                    raise AudioError(
                        f"{path}: truncated: the header declares {length} bytes of audio data, the file holds {present}"
                    )
                return
            pos += 8 + length + (length & 1)


def iter_blocks(info: AudioInfo, block_frames: int) -> Iterator[np.ndarray]:
    """Yield float32 ``(channels, n)`` blocks; raises ``AudioError`` on truncated or non-finite data."""
    read = 0
    try:
        with sf.SoundFile(str(info.path)) as f:
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                if not np.isfinite(block).all():
                    bad = read + int(np.argmax(~np.isfinite(block).all(axis=1)))
                    raise AudioError(f"{info.path}: holds NaN or Inf samples (first at {bad / info.sample_rate:.3f} s)")
                read += block.shape[0]
                yield np.ascontiguousarray(block.T)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{info.path}: corrupt or truncated audio after {read} samples ({_short(exc)})") from exc
    if read == 0:
        raise AudioError(f"{info.path}: holds no audio samples (zero length)")
    if read < info.frames:
        raise AudioError(f"{info.path}: truncated: header says {info.frames} samples, only {read} could be read")


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160] or type(exc).__name__


def output_subtype(out_path: Path, in_subtype: str | None) -> str | None:
    """Keep the input's sample format where the output container supports it; else its default."""
    fmt = _format_for(out_path)
    if in_subtype and sf.check_format(fmt, in_subtype):
        return in_subtype
    return sf.default_subtype(fmt)


def _format_for(path: Path) -> str:
    ext = path.suffix.lower().lstrip(".")
    mapping = {"oga": "OGG", "opus": "OGG", "aif": "AIFF", "aifc": "AIFF", "snd": "AU"}
    fmt = mapping.get(ext, ext.upper())
    if fmt not in sf.available_formats():
        raise OutputError(f"{path}: unsupported output format {path.suffix!r} (use .wav, .flac or .ogg)")
    return fmt


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name the same file (symlinks and hard links included)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.exists() and pb.exists():
            return os.path.samefile(pa, pb)
    except OSError:
        pass
    return pa.resolve() == pb.resolve()


def check_output(dst: str | os.PathLike[str], inputs: list[Path], force: bool) -> Path:
    """Refuse an output that is an input (always) or that exists (unless ``force``)."""
    out = Path(dst)
    for src in inputs:
        if same_file(src, out):
            raise OutputError(f"{out}: output is the input file {src}; refusing to overwrite an input")
    if out.is_dir():
        raise OutputError(f"{out}: is a folder, expected an output file name")
    if out.exists() and not force:
        raise OutputError(f"{out}: already exists (use --force to overwrite)")
    _format_for(out)
    return out


_SFC_SET_ADD_PEAK_CHUNK = 0x1050  # libsndfile command id (sndfile.h)


def _drop_peak_chunk(file: sf.SoundFile) -> None:
    """Stop libsndfile adding a PEAK chunk to float files: it stamps the write time, so the same
    audio written twice would differ in bytes (fixed dev/test sets must be byte-reproducible)."""
    try:
        sf._snd.sf_command(file._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
    except AttributeError:  # a soundfile without its cffi handles: keep the chunk, lose nothing else
        pass


class AtomicAudioWriter(AtomicOutput):
    """Stream blocks into a temporary file beside ``dst``; rename into place on success only.

    Integer formats are clipped to [-1, 1) instead of wrapping around.
    """

    def __init__(self, dst: str | os.PathLike[str], sample_rate: int, channels: int, subtype: str | None = None):
        self.dst = Path(dst)
        self.dst.parent.mkdir(parents=True, exist_ok=True)
        fmt = _format_for(self.dst)
        self.subtype = subtype or sf.default_subtype(fmt)
        self._clip = not self.subtype.upper().startswith(("FLOAT", "DOUBLE"))
        self._out = AtomicFile(self.dst)
        self.tmp = self._out.path
        try:
            self._file = sf.SoundFile(
                str(self.tmp), "w", samplerate=sample_rate, channels=channels, format=fmt, subtype=self.subtype
            )
        except Exception as exc:
            self._out.discard()
            raise OutputError(f"{self.dst}: cannot write ({_short(exc)})") from exc
        if not self._clip:
            _drop_peak_chunk(self._file)
        self.channels = channels
        self.frames = 0

    def write(self, block: np.ndarray) -> None:
        """Append a ``(channels, n)`` block."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim == 1:
            block = block[None]
        if self._clip:
            block = np.clip(block, -1.0, 1.0 - 1.0 / 32768)
        self._file.write(np.ascontiguousarray(block.T))
        self.frames += block.shape[1]

    def commit(self) -> Path:
        """Close and rename into place."""
        self._file.close()
        return self._out.commit()

    def discard(self) -> None:
        """Close and delete the temporary file."""
        try:
            self._file.close()
        finally:
            self._out.discard()


def write_audio(dst: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, subtype: str | None = None) -> Path:
    """Write a whole ``(channels, frames)`` or ``(frames,)`` array atomically."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    with AtomicAudioWriter(dst, sample_rate, audio.shape[0], subtype) as w:
        w.write(audio)
    return Path(dst)


def expand_inputs(items: list[str], recursive: bool = True) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Files, globs and folders -> ``(file, path relative to what was named)`` pairs, plus error lines.

    Missing paths and globs that match nothing are returned as errors, not raised, so a batch
    can go on with the inputs that exist.
    """
    import glob

    files: list[tuple[Path, Path]] = []
    errors: list[str] = []
    seen: set[Path] = set()

    def add(p: Path, rel: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            files.append((p, rel))

    for item in items:
        if any(c in item for c in "*?[") and not Path(item).exists():
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                errors.append(f"{item}: no file matches this pattern")
            for m in matches:
                if Path(m).is_file():
                    add(Path(m), Path(Path(m).name))
            continue
        p = Path(item)
        if not p.exists():
            errors.append(f"{p}: no such file or folder")
        elif p.is_dir():
            pattern = "**/*" if recursive else "*"
            found = sorted(f for f in p.glob(pattern) if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
            if not found:
                errors.append(f"{p}: folder holds no audio files")
            for f in found:
                add(f, f.relative_to(p))
        else:
            add(p, Path(p.name))
    return files, errors
