"""``sepkit enhance -`` and ``-o -``: WAV or raw PCM through standard input and output, block by block."""

from __future__ import annotations

import os
import select
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

import sepkit
from sepkit.audio.pcm_stream import PcmFormat
from sepkit.cli.main import main
from sepkit.metrics import si_sdr
from sepkit_fixtures import export_causal, speechlike

RATE = 16000


@pytest.fixture(scope="module")
def causal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_causal(tmp_path_factory.mktemp("models") / "filter", "filter_enhancer")


def s16(x: np.ndarray) -> bytes:
    return PcmFormat("s16le", RATE, x.shape[0]).encode(x)


def wav_stream(fmt: PcmFormat, data: bytes, declared: int) -> bytes:
    """A WAV stream whose header declares ``declared`` data bytes (an extra chunk before the data, as some writers add)."""
    fmt_body = struct.pack("<HHIIHH", 1, fmt.channels, fmt.rate, fmt.rate * fmt.frame_bytes, fmt.frame_bytes, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + 12 + declared)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt_body
        + b"LIST"
        + struct.pack("<I", 4)
        + b"INFO"
        + b"data"
        + struct.pack("<I", declared)
        + data
    )


PIPE = ("enhance", "-", "-o", "-")  # standard input to standard output


@pytest.fixture
def run_with_stdin(
    capsysbinary: pytest.CaptureFixture[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, bytes, str]]:
    """``run(data, *args)``: the CLI in this process, its standard input a file holding ``data`` (read the way a
    pipe is); returns the exit code, standard output and standard error."""

    def run(data: bytes, *args: object) -> tuple[int, bytes, str]:
        src = tmp_path / "stdin.bin"
        src.write_bytes(data)
        with open(src, "r") as stdin:
            monkeypatch.setattr(sys, "stdin", stdin)
            code = main([str(a) for a in args])
        out, err = capsysbinary.readouterr()
        return code, out, err.decode()

    return run


def one_line(err: str, needle: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sepkit: error:") and needle in lines[0], err


def test_wav_in_wav_out_equals_offline(causal_dir: Path, run_with_stdin) -> None:
    x = speechlike(1.0, RATE, seed=4, channels=2)
    fmt = PcmFormat("s16le", RATE, 2)
    code, out, err = run_with_stdin(fmt.wav_header() + fmt.encode(x), *PIPE, "--model", causal_dir, "--device", "cpu")
    assert code == 0, err
    assert out[:4] == b"RIFF" and out[36:40] == b"data" and struct.unpack("<HHI", out[20:28]) == (1, 2, RATE)
    y = fmt.decode(out[44:])
    sent = fmt.decode(fmt.encode(x))
    assert y.shape == x.shape
    assert np.min(si_sdr(y, sepkit.load(causal_dir, device="cpu").enhance(sent, RATE))) >= 40.0


def test_a_stream_cut_inside_a_frame_ends_cleanly(causal_dir: Path, run_with_stdin) -> None:
    x = speechlike(0.5, RATE, seed=5)
    fmt = PcmFormat("s16le", RATE, 1)
    data = fmt.encode(x)
    # a recorder's header declares far more than comes (arecord: ~2 GB); this one also stops mid-sample
    code, out, err = run_with_stdin(wav_stream(fmt, data + b"\x01", 0x7FFFFFFF), *PIPE, "--model", causal_dir)
    assert code == 2
    one_line(err, "inside a sample frame")
    assert "Traceback" not in err
    assert (len(out) - 44) == len(data)  # every whole frame that came went out
    # without the stray byte the short stream is simply the end of the input
    code, out, err = run_with_stdin(wav_stream(fmt, data, 0x7FFFFFFF), *PIPE, "--model", causal_dir)
    assert code == 0 and err == "" and len(out) - 44 == len(data)
    # a declared size is honoured: what follows the data chunk is not audio
    code, out, err = run_with_stdin(wav_stream(fmt, data, len(data)) + b"JUNKJUNK", *PIPE, "--model", causal_dir)
    assert code == 0 and len(out) - 44 == len(data)


def test_raw_float_stdin_to_a_file(causal_dir: Path, run_with_stdin, tmp_path: Path) -> None:
    x = speechlike(0.7, 48000, seed=6, channels=2)
    fmt = PcmFormat("f32le", 48000, 2)
    dst = tmp_path / "out.wav"
    raw = ("--raw", "f32le", "--rate", "48000", "--channels", "2")
    code, out, err = run_with_stdin(fmt.encode(x), "enhance", "-", "-o", dst, *raw, "--model", causal_dir)
    assert code == 0, err
    y, rate = sf.read(dst, dtype="float32", always_2d=True)
    assert rate == 48000 and sf.info(dst).subtype == "FLOAT" and y.T.shape == x.shape
    assert np.min(si_sdr(y.T, sepkit.load(causal_dir, device="cpu").enhance(x, 48000))) >= 40.0


def test_low_latency_pipe_runs_the_limiter_without_look_ahead(causal_dir: Path, run_with_stdin) -> None:
    x = 0.3 * speechlike(0.5, 16000, seed=7)
    fmt = PcmFormat("f32le", 16000, 1)
    raw = ("--raw", "f32le", "--rate", "16000")
    code, out, err = run_with_stdin(fmt.encode(x), *PIPE, *raw, "--model", causal_dir, "--low-latency")
    assert code == 0, err
    y = np.frombuffer(out, dtype="<f4")
    model = sepkit.load(causal_dir, device="cpu")
    assert y.size == x.shape[-1]
    offline = model.enhance(x, 16000)[0]
    assert np.abs(offline).max() < 0.9  # the model stays below full scale, where both limiters pass it unchanged
    assert si_sdr(y, offline) >= 40.0
    assert model.stream(16000, limiter_lookahead_ms=0).latency_ms == model.stream(16000).latency_ms - 5.0


def test_refusals_are_one_line_and_write_nothing(
    causal_dir: Path, enh_model_dir: Path, run_with_stdin, tmp_path: Path
) -> None:
    fmt = PcmFormat("s16le", RATE, 1)
    wav = fmt.wav_header() + fmt.encode(speechlike(0.2, RATE))
    cases = [
        (wav, ["--model", enh_model_dir], "not causal"),  # a non-causal model cannot stream
        (b"ID3\x04 not audio at all", ["--model", causal_dir], "not a WAV stream"),
        (b"RIFF", ["--model", causal_dir], "inside its WAV header"),
        (wav, ["--model", causal_dir, "--rate", "8000"], "--raw"),
        (wav, ["--model", causal_dir, "--raw", "s16le"], "--raw needs --rate"),
        (wav, ["--model", causal_dir, "--raw", "u8"], "--raw must be one of"),
    ]
    for data, extra, needle in cases:
        code, out, err = run_with_stdin(data, *PIPE, *extra)
        assert code == 2 and out == b"", (needle, err)
        one_line(err, needle)
    src = tmp_path / "a.wav"
    sf.write(src, speechlike(0.2, RATE)[0], RATE)
    for args, needle in [
        (["-", src, "-o", "-"], "exactly one input"),
        (["-"], "-o FILE or -o -"),
        ([src, "-o", tmp_path / "b.wav", "--raw", "s16le"], "give - as the input or -o -"),
    ]:
        code, out, err = run_with_stdin(b"", "enhance", *args, "--model", causal_dir)
        assert code == 2 and out == b""
        one_line(err, needle)


def start_pipe(causal_dir: Path) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "sepkit.cli.main",
        "enhance",
        "-",
        "-o",
        "-",
        "--raw",
        "s16le",
        "--rate",
        str(RATE),
        "--model",
        str(causal_dir),
        "--device",
        "cpu",
    ]
    # SIGINT at its default in the child: a pytest-xdist worker may ignore it, and an ignored SIGINT is
    # inherited through exec (Python then installs no KeyboardInterrupt handler), as for a background job
    return subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def read_output(proc: subprocess.Popen[bytes], at_least: int | None = None, timeout: float = 300.0) -> bytes:
    """Read the process's output until ``at_least`` bytes came (it must not end before), or with ``None`` until
    it closes it; a timeout fails the test."""
    assert proc.stdout is not None
    got = b""
    end = time.monotonic() + timeout
    while at_least is None or len(got) < at_least:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, end - time.monotonic()))
        assert ready, f"waited {timeout} s for output ({len(got)} bytes so far)"
        chunk = os.read(proc.stdout.fileno(), 1 << 16)
        if not chunk:
            assert at_least is None, "output ended early"
            return got
        got += chunk
    return got


@pytest.mark.slow
def test_a_live_pipe_answers_each_block_as_it_arrives(causal_dir: Path) -> None:
    x = speechlike(1.0, RATE, seed=7)
    data = s16(x)
    proc = start_pipe(causal_dir)
    assert proc.stdin is not None
    half = len(data) // 2
    proc.stdin.write(data[:half])
    proc.stdin.flush()
    first = read_output(proc, half - 2 * RATE // 10)  # most of the first half comes back while the input is still open
    proc.stdin.write(data[half:])
    proc.stdin.close()
    assert proc.stdout is not None and proc.stderr is not None
    rest, err = proc.stdout.read(), proc.stderr.read()
    assert proc.wait(timeout=300) == 0, err.decode()
    fmt = PcmFormat("s16le", RATE, 1)
    y = fmt.decode(first + rest)
    assert y.shape == x.shape
    assert si_sdr(y[0], sepkit.load(causal_dir, device="cpu").enhance(fmt.decode(data)[0], RATE)) >= 40.0


@pytest.mark.slow
def test_ctrl_c_ends_the_stream_cleanly(causal_dir: Path) -> None:
    data = s16(speechlike(1.0, RATE, seed=8))
    proc = start_pipe(causal_dir)
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.flush()
    first = read_output(proc, 2000)
    proc.send_signal(signal.SIGINT)
    # stdin stays open, as under a live recorder: only the signal may end the run (closing stdin first
    # would race the signal with end of input on a loaded machine)
    rest = read_output(proc)
    proc.wait(timeout=300)
    proc.stdin.close()
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert proc.returncode == 130  # as for Ctrl-C anywhere in the CLI: exit 130, no traceback, no message
    assert err.decode().strip() == ""
    assert len(first + rest) % 2 == 0 and len(first + rest) <= len(data)
