"""``sepkit enhance`` and ``sepkit separate``: files, globs and folders through one model."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import typer

from sepkit.cli.app import app, fail, report, state
from sepkit.errors import SepkitError
from sepkit.pretrained import DEFAULT_ENHANCER, OUTPUT_RULES

if TYPE_CHECKING:
    from sepkit.api import SepkitModel

DeviceOpt = typer.Option("auto", "--device", help="auto, cpu or cuda (auto picks CUDA when available).")
ForceOpt = typer.Option(False, "--force", help="Overwrite existing outputs (never an input).")
HalfOpt = typer.Option(False, "--half", help="Half precision (CUDA only).")
ChunkSecondsOpt = typer.Option(None, "--chunk-seconds", help="Chunk length for long inputs.")
BatchSizeOpt = typer.Option(None, "--batch-size", help="Chunks per model call.")
BackendOpt = typer.Option(
    "torch",
    "--backend",
    help="torch, or onnx: run the folder's model.onnx (sepkit export ... --format onnx) with onnxruntime on the CPU.",
)
PlotOpt = typer.Option(
    False,
    "--plot",
    help="Also write a before/after spectrogram PNG beside each output "
    "(<output stem>.png; separate: <mixture stem>.png beside its sources); reads each file whole.",
)


def _load(
    model: str,
    device: str,
    half: bool,
    chunk_seconds: Optional[float],
    batch_size: Optional[int],
    backend: str = "torch",
    attenuation_limit: Optional[float] = None,
) -> SepkitModel:
    from sepkit.api import load

    return load(
        model,
        device=device,
        half=half,
        chunk_seconds=chunk_seconds,
        batch_size=batch_size,
        backend=backend,
        attenuation_limit_db=attenuation_limit,
    )


def _run_batch(items: list[str], work: Callable[[Path, Path, Callable[[int, int], None]], str]) -> None:
    """Run ``work`` over every input, report failures one line each, exit 2 if any failed."""
    from sepkit.audio.io import expand_inputs
    from sepkit.cli.progress import progress_bar

    files, errors = expand_inputs(items)
    for line in errors:
        report(line)
    failed = len(errors)
    done = 0
    with progress_bar("files") as bar:
        total = bar.add_task("files", total=len(files))
        for src, rel in files:
            task = bar.add_task(f"{src.name}", total=1.0)

            def tick(n: int, of: int, task: int = task) -> None:
                bar.update(task, completed=n / max(of, 1))

            try:
                written = work(src, rel, tick)
                done += 1
                print(written, flush=True)
            except SepkitError as exc:
                failed += 1
                if state.debug:
                    traceback.print_exc()
                report(str(exc))
            finally:
                bar.remove_task(task)
                bar.advance(total)
    if failed:
        report(f"{failed} of {failed + done} inputs failed; {done} written")
        raise typer.Exit(2)


@app.command()
def enhance(
    inputs: list[str] = typer.Argument(
        ...,
        help="Audio files, globs or folders; - reads standard input (WAV, or "
        "raw PCM with --raw) block by block as it arrives.",
    ),
    output: Optional[Path] = typer.Option(
        None,
        "-o",
        "--output",
        help="Output file (one input only); - writes standard output as it is ready (WAV, or raw PCM with --raw).",
    ),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Folder for outputs; they keep their input names."),
    model: str = typer.Option(DEFAULT_ENHANCER, "--model", help="Shipped model name or exported model folder."),
    device: str = DeviceOpt,
    force: bool = ForceOpt,
    half: bool = HalfOpt,
    chunk_seconds: Optional[float] = ChunkSecondsOpt,
    batch_size: Optional[int] = BatchSizeOpt,
    plot: bool = PlotOpt,
    backend: str = BackendOpt,
    raw: Optional[str] = typer.Option(
        None, "--raw", help="Raw PCM on standard input/output instead of WAV: s16le or f32le, interleaved."
    ),
    rate: Optional[int] = typer.Option(None, "--rate", min=1, help="Sample rate of raw PCM on standard input."),
    channels: Optional[int] = typer.Option(
        None, "--channels", min=1, help="Channels of raw PCM on standard input (default 1)."
    ),
    attenuation_limit: Optional[float] = typer.Option(
        None,
        "--attenuation-limit",
        metavar="DB",
        help="Lower the noise by at most DB decibels (e.g. 12 keeps some ambience): mixes 10^(-DB/20) of the "
        "input back into the output.",
    ),
    low_latency: bool = typer.Option(
        False,
        "--low-latency",
        help="With standard input or output: the output "
        "limiter looks no samples ahead (5 ms less latency; its gain drops at once on a "
        "peak that would pass full scale instead of ramping down before it).",
    ),
) -> None:
    """Enhance noisy speech. Without -o/--out-dir writes <name>_enhanced.<ext> beside each input."""
    if output is not None and out_dir is not None:
        fail("give either -o/--output or --out-dir, not both")
    from sepkit.audio.pcm_stream import RAW_ENCODINGS

    if raw is not None and raw not in RAW_ENCODINGS:
        fail(f"--raw must be one of {', '.join(RAW_ENCODINGS)}, not {raw!r}")
    from sepkit.cli.pipe import stdio_arguments

    if stdio_arguments(inputs, output, out_dir, plot):
        from sepkit.cli.pipe import enhance_pipe

        assert output is not None
        warning = enhance_pipe(
            _load(model, device, half, chunk_seconds, batch_size, backend, attenuation_limit),
            inputs[0],
            output,
            raw,
            rate,
            channels,
            force,
            low_latency,
        )
        if warning:
            fail(warning)
        return
    if raw is not None or rate is not None or channels is not None or low_latency:
        fail(
            "--raw, --rate, --channels and --low-latency are for standard input or output (-): give - as the input "
            "or -o -"
        )
    if output is not None:
        from sepkit.audio.io import expand_inputs

        files, errors = expand_inputs(inputs)
        if len(files) + len(errors) != 1:
            fail(f"-o/--output takes exactly one input, got {len(files) + len(errors)}: use --out-dir")
    net = _load(model, device, half, chunk_seconds, batch_size, backend, attenuation_limit)

    def work(src: Path, rel: Path, tick: Callable[[int, int], None]) -> str:
        if output is not None:
            dst = output
        elif out_dir is not None:
            dst = out_dir / rel
        else:
            dst = src.with_name(f"{src.stem}_enhanced{src.suffix}")
        if not plot:
            return str(net.enhance_file(src, dst, force=force, on_progress=tick))
        from sepkit.plots import plot_path, save_before_after

        png = plot_path(Path(dst).with_suffix(".png"), [src], force)  # checked before the model runs
        written = net.enhance_file(src, dst, force=force, on_progress=tick)
        return f"{written} {save_before_after(png, src, [written])}"

    _run_batch(inputs, work)


@app.command()
def separate(
    inputs: list[str] = typer.Argument(..., help="Mixture files, globs or folders."),
    out_dir: Path = typer.Option(..., "--out-dir", help="Folder for <stem>_s1.wav, <stem>_s2.wav, ..."),
    model: Optional[str] = typer.Option(
        None, "--model", help="Shipped model name or folder (default: separate-<K>spk)."
    ),
    n_src: Optional[int] = typer.Option(None, "--n-src", min=1, help="Number of sources K the model must produce."),
    outputs: Optional[str] = typer.Option(
        None,
        "--outputs",
        help="For a model with more outputs than sources (MixIT): 'balanced' (outputs summed in groups of "
        "alike energy), 'loudest' (per chunk), 'all', or indices such as 0,3. Default: the model's own choice.",
    ),
    device: str = DeviceOpt,
    force: bool = ForceOpt,
    half: bool = HalfOpt,
    chunk_seconds: Optional[float] = ChunkSecondsOpt,
    batch_size: Optional[int] = BatchSizeOpt,
    plot: bool = PlotOpt,
    backend: str = BackendOpt,
) -> None:
    """Separate mixtures into sources."""
    name = model or f"separate-{n_src or 2}spk"
    net = _load(name, device, half, chunk_seconds, batch_size, backend)
    if outputs is not None:
        net = net.with_outputs(_output_choice(outputs))
    if n_src is not None and net.n_src != n_src:
        fail(f"model {net.name} produces {net.n_src} sources, not --n-src {n_src}")
    if net.task != "separate":
        fail(f"model {net.name} is an {net.task} model, not a separator")

    def work(src: Path, rel: Path, tick: Callable[[int, int], None]) -> str:
        dst_dir = out_dir / rel.parent
        if not plot:
            return " ".join(str(p) for p in net.separate_file(src, dst_dir, force=force, on_progress=tick))
        from sepkit.plots import plot_path, save_before_after

        png = plot_path(dst_dir / f"{src.stem}.png", [src], force)  # checked before the model runs
        written = net.separate_file(src, dst_dir, force=force, on_progress=tick)
        return " ".join(str(p) for p in [*written, save_before_after(png, src, written)])

    _run_batch(inputs, work)


def _output_choice(text: str) -> list[int] | str | None:
    """``--outputs``: a rule name, ``all`` (every output: ``None``), or comma-separated output indices."""
    if text in OUTPUT_RULES:
        return text
    if text == "all":
        return None
    try:
        return [int(k) for k in text.split(",")]
    except ValueError:
        fail(f"--outputs must be {', '.join(OUTPUT_RULES)}, all, or output indices such as 0,3, not {text!r}")
