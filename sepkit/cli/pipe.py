"""``sepkit enhance -`` / ``-o -``: standard input and output, block by block through a model's stream.

Not a command module: ``sepkit.cli.enhance`` imports it when an input or output is ``-``. What has
arrived is processed and written at once, so ``arecord ... | sepkit enhance - -o - | aplay ...``
plays live. A stream that ends early ends the output there; Ctrl-C writes what the model still
holds, then exits 130; a reader that goes away (``aplay`` closed) ends the run quietly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional, Protocol

import numpy as np

from sepkit.audio.io import AtomicAudioWriter, audio_info, check_output, iter_blocks, output_subtype
from sepkit.audio.pcm_stream import SUBTYPES, PcmFormat, PcmReader, PcmWriter, encoding_of_subtype
from sepkit.errors import AudioError, SepkitError

if TYPE_CHECKING:
    from sepkit.api import SepkitModel
    from sepkit.inference.stream import AudioStream

STDIO = "-"
FILE_BLOCK_SECONDS = 0.5


class Sink(Protocol):
    def write(self, audio: np.ndarray) -> None: ...


def enhance_pipe(
    model: SepkitModel,
    src: str,
    dst: Path,
    raw: Optional[str],
    rate: Optional[int],
    channels: Optional[int],
    force: bool,
    low_latency: bool = False,
) -> Optional[str]:
    """Stream ``src`` (a file or ``-``) through ``model`` into ``dst`` (a file or ``-``); returns a warning line, if any."""
    reader: PcmReader | None = None
    if src == STDIO:
        if raw is not None and rate is None:
            raise SepkitError("--raw needs --rate (and --channels if not 1)")
        if raw is None and (rate is not None or channels is not None):
            raise SepkitError("--rate and --channels describe raw PCM (--raw): a WAV stream's header gives them")
        reader = PcmReader(sys.stdin.buffer, PcmFormat(raw, rate, channels or 1) if raw else None)
        fmt, blocks = reader.format, reader.blocks()
    else:
        if rate is not None or channels is not None:
            raise SepkitError("--rate and --channels describe raw PCM on standard input, not a file")
        info = audio_info(src)
        fmt = PcmFormat(raw or encoding_of_subtype(info.subtype), info.sample_rate, info.channels)
        blocks = iter_blocks(info, max(1, int(FILE_BLOCK_SECONDS * info.sample_rate)))
    # refuses non-causal models before any output exists
    stream = model.stream(fmt.rate, fmt.channels, limiter_lookahead_ms=0.0 if low_latency else 5.0)
    if str(dst) == STDIO:
        _run(stream, blocks, PcmWriter(sys.stdout.buffer, fmt, wav=raw is None))
    else:
        check_output(dst, [] if src == STDIO else [Path(src)], force)
        writer = AtomicAudioWriter(dst, fmt.rate, fmt.channels, output_subtype(dst, SUBTYPES[fmt.encoding]))
        try:
            _run(stream, blocks, writer)
        except KeyboardInterrupt:  # the end of a live recording: keep what came
            writer.commit()
            raise
        except BaseException:
            writer.discard()
            raise
        writer.commit()
    if reader is not None and reader.stray:
        return f"{src}: the stream ended inside a sample frame; its last {reader.stray} bytes were dropped"
    return None


def _run(stream: AudioStream, blocks: Iterator[np.ndarray], sink: Sink) -> None:
    """Every block through the stream into ``sink``, then the flush; on Ctrl-C the flush still goes out."""
    try:
        try:
            for block in blocks:
                sink.write(stream.process(block))
        except KeyboardInterrupt:
            sink.write(stream.flush())
            raise
        sink.write(stream.flush())
    except BrokenPipeError:  # the reader went away: nothing left to do, and nothing more may go to stdout
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def stdio_arguments(inputs: list[str], output: Optional[Path], out_dir: Optional[Path], plot: bool) -> bool:
    """Whether this run uses standard input or output; a ``SepkitError`` for combinations that cannot work."""
    if STDIO not in inputs and (output is None or str(output) != STDIO):
        return False
    if len(inputs) != 1:
        raise SepkitError("standard input or output (-) takes exactly one input")
    if output is None or out_dir is not None:
        raise SepkitError("reading standard input needs -o FILE or -o - (standard output), not --out-dir")
    if plot:
        raise SepkitError("--plot reads whole files: it does not work with standard input or output")
    if inputs[0] != STDIO and not Path(inputs[0]).is_file():
        raise AudioError(f"{inputs[0]}: no such file")
    return True
