"""Audio on pipes: raw PCM or WAV read block by block as it arrives, and written the same way.

A WAV stream's header is parsed from the bytes themselves (a pipe cannot seek): the ``fmt `` chunk gives
the rate, channels and sample format, and the ``data`` chunk's size is honoured unless it is a
placeholder or more than ever arrives (recorders such as ``arecord`` declare ~2 GB and stop when
interrupted): the stream then simply ends at end of file. Output WAV headers carry the placeholder
size 0xFFFFFFFF, as streaming writers do.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np

from sepkit.errors import AudioError

ENCODINGS = ("s16le", "s24le", "s32le", "f32le")
RAW_ENCODINGS = ("s16le", "f32le")  # the ones the command line offers for raw PCM
_STREAMING_SIZE = 0xFFFFFFFF
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
MAX_READ_SECONDS = 1.0  # a read returns what has arrived, up to this much


@dataclass(frozen=True)
class PcmFormat:
    """Interleaved little-endian PCM: sample encoding, rate and channel count."""

    encoding: str
    rate: int
    channels: int

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise AudioError(f"unknown PCM encoding {self.encoding!r} (use one of {', '.join(ENCODINGS)})")
        if self.rate <= 0 or self.channels <= 0:
            raise AudioError(
                f"PCM needs a positive rate and channel count, got {self.rate} Hz, {self.channels} channels"
            )

    @property
    def width(self) -> int:
        """Bytes per sample."""
        return int(self.encoding[1:3]) // 8

    @property
    def frame_bytes(self) -> int:
        return self.width * self.channels

    def decode(self, data: bytes) -> np.ndarray:
        """Whole frames of ``data`` as float32 ``(channels, n)`` in [-1, 1)."""
        if self.encoding == "f32le":
            x = np.frombuffer(data, "<f4").astype(np.float32)
        elif self.encoding == "s24le":
            b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
            x = ((b[:, 0] << 8 | b[:, 1] << 16 | b[:, 2] << 24) >> 8).astype(np.float32) / 2.0**23
        else:
            x = np.frombuffer(data, f"<i{self.width}").astype(np.float32) / 2.0 ** (8 * self.width - 1)
        return x.reshape(-1, self.channels).T

    def encode(self, audio: np.ndarray) -> bytes:
        """Float ``(channels, n)`` as interleaved bytes; integer encodings are clipped to their range."""
        x = np.ascontiguousarray(np.asarray(audio, np.float32).reshape(self.channels, -1).T).reshape(-1)
        if self.encoding == "f32le":
            return x.astype("<f4").tobytes()
        bits = 8 * self.width - 1
        q = np.clip(np.round(x.astype(np.float64) * 2.0**bits), -(2**bits), 2**bits - 1).astype(np.int32)
        if self.encoding == "s24le":
            return np.stack([q & 0xFF, q >> 8 & 0xFF, q >> 16 & 0xFF], axis=-1).astype(np.uint8).tobytes()
        return q.astype(f"<i{self.width}").tobytes()

    def wav_header(self) -> bytes:
        """A WAV header for a stream of unknown length (placeholder sizes)."""
        tag = _FLOAT if self.encoding == "f32le" else _PCM
        fmt = struct.pack(
            "<HHIIHH", tag, self.channels, self.rate, self.rate * self.frame_bytes, self.frame_bytes, 8 * self.width
        )
        return (
            b"RIFF"
            + struct.pack("<I", _STREAMING_SIZE)
            + b"WAVE"
            + b"fmt "
            + struct.pack("<I", len(fmt))
            + fmt
            + b"data"
            + struct.pack("<I", _STREAMING_SIZE)
        )


SUBTYPES = {"s16le": "PCM_16", "s24le": "PCM_24", "s32le": "PCM_32", "f32le": "FLOAT"}  # encoding -> soundfile subtype


def encoding_of_subtype(subtype: str) -> str:
    """The stream encoding that carries a soundfile subtype without loss where one does (float otherwise)."""
    return {sub: enc for enc, sub in SUBTYPES.items()}.get(subtype, "f32le")


class PcmReader:
    """Blocks of float32 ``(channels, n)`` from a byte stream (raw PCM in ``raw``'s format, else WAV), as they arrive."""

    def __init__(self, stream: BinaryIO, raw: PcmFormat | None = None, name: str = "stdin") -> None:
        self._fd = stream.fileno()
        self.name = name
        self._pending = b""
        self._left: int | None = None  # data bytes the header declares are still to come (None: until EOF)
        self.stray = 0  # bytes of an incomplete frame at the end of the stream
        self.format = raw if raw is not None else self._read_wav_header()

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield whole frames as soon as they arrive; ``stray`` counts the bytes of a last, incomplete frame."""
        fmt = self.format
        limit = max(fmt.frame_bytes, int(MAX_READ_SECONDS * fmt.rate) * fmt.frame_bytes)
        while self._left is None or self._left > 0:
            got = os.read(self._fd, limit if self._left is None else min(limit, self._left))  # what has arrived
            if not got:
                break
            if self._left is not None:
                self._left -= len(got)
            data = self._pending + got
            whole = len(data) - len(data) % fmt.frame_bytes
            self._pending = data[whole:]
            if whole:
                yield fmt.decode(data[:whole])
        self.stray = len(self._pending)

    def _read_exactly(self, n: int, what: str) -> bytes:
        data = b""
        while len(data) < n:
            got = os.read(self._fd, n - len(data))
            if not got:
                raise AudioError(f"{self.name}: the stream ended inside its WAV header ({what})")
            data += got
        return data

    def _read_wav_header(self) -> PcmFormat:
        head = self._read_exactly(12, "RIFF header")
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise AudioError(
                f"{self.name}: not a WAV stream (no RIFF/WAVE header): for raw PCM give --raw, --rate and --channels"
            )
        fmt: PcmFormat | None = None
        while True:
            chunk, size = struct.unpack("<4sI", self._read_exactly(8, "chunk header"))
            if chunk == b"data":
                if fmt is None:
                    raise AudioError(f"{self.name}: WAV stream has its data before its fmt chunk")
                self._left = None if size in (0, _STREAMING_SIZE) else size
                return fmt
            body = self._read_exactly(size + (size & 1), chunk.decode("latin-1").strip() + " chunk")
            if chunk == b"fmt ":
                fmt = self._parse_fmt(body)

    def _parse_fmt(self, body: bytes) -> PcmFormat:
        if len(body) < 16:
            raise AudioError(f"{self.name}: WAV fmt chunk too short ({len(body)} bytes)")
        tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
        if tag == _EXTENSIBLE and len(body) >= 26:
            tag = struct.unpack("<H", body[24:26])[0]  # the sub-format GUID starts with the plain tag
        encoding = {(_PCM, 16): "s16le", (_PCM, 24): "s24le", (_PCM, 32): "s32le", (_FLOAT, 32): "f32le"}.get(
            (tag, bits)
        )
        if encoding is None:
            raise AudioError(
                f"{self.name}: WAV stream of format {tag} with {bits}-bit samples is not supported "
                f"(16/24/32-bit integer or 32-bit float)"
            )
        return PcmFormat(encoding, rate, channels)


class PcmWriter:
    """Write float32 ``(channels, n)`` blocks to a byte stream as raw PCM or WAV, flushed block by block."""

    def __init__(self, stream: BinaryIO, fmt: PcmFormat, wav: bool) -> None:
        self._stream, self.format = stream, fmt
        if wav:
            self._put(fmt.wav_header())

    def write(self, audio: np.ndarray) -> None:
        if audio.shape[-1]:
            self._put(self.format.encode(audio))

    def _put(self, data: bytes) -> None:
        self._stream.write(data)
        self._stream.flush()
