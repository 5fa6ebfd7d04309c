"""``sepkit evaluate --report DIR``: an evaluation as a static page, with pictures and audio beside it.

    DIR/index.html            summary with paired intervals, per-slice tables, a sortable per-file table,
                              and the chosen files: best, median and worst by SI-SDRi, plus any named
    DIR/img/improvement.png   every system's SI-SDRi per file against the file's input SNR
    DIR/img/NN_<file>/*.png   a spectrogram of each signal of a chosen file, one colour scale per file
    DIR/audio/NN_<file>/*.flac  the same signals (16-bit FLAC, their own rate and length), one player each

The page opens from disk with no server and no network, and has no outside script or style. Audio is
linked, not inlined, so the page of a large test set stays light. Everything comes from the
``Evaluation`` (its means, per-file rows, paired differences and the files it scored): nothing is rerun.
"""

from __future__ import annotations

import datetime
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence
from urllib.parse import quote

import numpy as np

from sepkit.audio.io import AUDIO_EXTENSIONS, read_audio, write_audio
from sepkit.errors import ConfigError, OutputError
from sepkit.evaluation.compare import UNPROCESSED, Evaluation
from sepkit.evaluation.report_html import GENERATOR, esc, number, page, per_file_table, slice_tables, summary_table
from sepkit.metrics.pairing import mixtures
from sepkit.plots import save_figure, shared_limits, spectrogram, spectrogram_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sepkit.metrics import ScorePair

RANK = "si_sdri"  # files are chosen by the model's improvement in SI-SDR
INPUT = "si_sdr"  # the unprocessed input's SI-SDR: its SNR (noise uncorrelated with the speech)
AUDIO_SUBTYPE = "PCM_16"


def check_request(target: Path, named: Sequence[str], mix_dir: Path, metrics: Sequence[str]) -> list[str]:
    """Check a report request before any model runs; the named files as stems. ``OutputError`` for a target that
    is a file or a folder holding other things (a report written before is replaced), ``ConfigError`` otherwise."""
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: is a file; --report takes a folder")
    if target.is_dir() and any(target.iterdir()) and not is_report(target):
        raise OutputError(f"{target}: holds other files; give --report a new or empty folder (or an earlier report)")
    if INPUT not in metrics:
        raise ConfigError("--report needs si_sdr in --metrics: files are chosen and plotted by SI-SDRi")
    stems = [Path(n).stem if Path(n).suffix.lower() in AUDIO_EXTENSIONS else n for n in named]
    known = mixtures(mix_dir) if stems else {}
    unknown = [n for n, s in zip(named, stems) if s not in known]
    if unknown:
        raise ConfigError(f"--report-files {unknown[0]!r}: no such mixture in {mix_dir}")
    return list(dict.fromkeys(stems))


def is_report(folder: Path) -> bool:
    """Whether ``folder`` holds a report sepkit wrote (its index.html names the generator)."""
    try:
        with open(folder / "index.html", encoding="utf-8", errors="replace") as f:
            return f'content="{GENERATOR}"' in f.read(4096)
    except OSError:
        return False


def chosen_files(result: Evaluation, named: Sequence[str] = ()) -> dict[str, list[str]]:
    """File -> why it is shown: the best, median and worst by the model's SI-SDRi, then the ones named."""
    scores = {f: r[RANK] for f, r in result.rows[result.model].items() if math.isfinite(r.get(RANK, math.nan))}
    order = sorted(scores, key=lambda f: (scores[f], f))
    picks: dict[str, list[str]] = {}
    if order:
        for why, f in (("best", order[-1]), ("median", order[len(order) // 2]), ("worst", order[0])):
            picks.setdefault(f, []).append(f"{why} by SI-SDRi")
    for f in named:
        picks.setdefault(f, []).append("named")
    return picks


def write_report(
    folder: Path,
    result: Evaluation,
    diffs: Mapping[str, Mapping[str, Mapping[str, float]]],
    command: str = "",
    title: str = "",
    named: Sequence[str] = (),
    slices: Sequence[Mapping[str, Any]] | None = None,
) -> Path:
    """Write the report into ``folder`` (new or staged: see ``sepkit.atomic.staged_folder``); its index.html.

    ``diffs`` is ``result.paired()``, ``slices`` ``sepkit.evaluation.slices.slice_report``'s entries when the set
    has slices; the files ``result.pairs`` names must still exist.
    """
    model = result.model
    picks = chosen_files(result, named)
    anchors = {stem: f"file-{i}" for i, stem in enumerate(picks)}
    rtf = {
        s: result.seconds[s] / result.audio_seconds if s in result.seconds and result.audio_seconds else None
        for s in result.means
    }
    cols = list(result.means[model])
    improvements = {c for c in cols if c.endswith("i") and c[:-1] in cols}
    sections = [
        _header(result, command, title),
        "<h2>Summary</h2>",
        summary_table(result.means, rtf, model, diffs),
        f'<p class="note">Means over {result.files} files; the best of each column in bold. Under each '
        f"other system's mean: {esc(model)} minus that system per file, as the mean [95 % bootstrap "
        "interval over files], and the share of files on which it scores higher. RTF: seconds of "
        "processing per second of audio (wall clock, as measured in this run).</p>",
    ]
    if slices:
        sections += [
            "<h2>Per slice</h2>",
            '<p class="note">As the summary, over the files of each slice.</p>',
            *slice_tables(slices, model),
        ]
    save_figure(improvement_figure(result), folder / "img" / "improvement.png")
    sections += [
        "<h2>Improvement against input SNR</h2>",
        '<img src="img/improvement.png" alt="SI-SDRi per file against input SNR" style="max-width:760px">',
        '<p class="note">Input SNR: the SI-SDR of the unprocessed mixture. Lines: mean over the files in '
        "each 5 dB band of input SNR that holds 3 files or more.</p>",
        "<h2>Per file</h2>",
        '<p class="note">Click a column to sort by it.</p>',
        per_file_table(result.rows, list(result.rows), cols, anchors, skip=[(UNPROCESSED, c) for c in improvements]),
    ]
    sections += [
        "<h2>Listen</h2>",
        '<p class="note">Spectrograms share one colour scale per file (80 dB below its loudest bin).</p>',
    ]
    for i, (stem, why) in enumerate(picks.items()):
        sections.append(_file_section(folder, i, stem, why, result, anchors[stem]))
    index = folder / "index.html"
    index.write_text(page(f"{model}: {title}" if title else model, sections), encoding="utf-8")
    return index


def improvement_figure(result: Evaluation) -> Figure:
    """Each system's SI-SDRi per file against the input SNR, with the mean (of both) per 5 dB band of input SNR."""
    from matplotlib.figure import Figure

    inputs = result.rows[UNPROCESSED]
    fig = Figure(figsize=(7.6, 4.2), layout="constrained")
    ax = fig.add_subplot()
    others = [s for s in result.rows if s not in (UNPROCESSED, result.model)]
    colours = {s: f"C{i + (i >= 3)}" for i, s in enumerate(others)} | {result.model: "C3"}  # the model in red
    for system in [*others, result.model]:
        files = [f for f in result.rows[system] if f in inputs]
        x = np.array([inputs[f].get(INPUT, math.nan) for f in files])
        y = np.array([result.rows[system][f].get(RANK, math.nan) for f in files])
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
        ax.scatter(x, y, s=12, alpha=0.55, color=colours[system], label=system, linewidths=0)
        if x.size:
            edges = np.arange(5 * math.floor(x.min() / 5), x.max() + 5, 5.0)
            band = np.digitize(x, edges)
            means = [(x[band == b].mean(), y[band == b].mean()) for b in np.unique(band) if (band == b).sum() >= 3]
            if means:
                ax.plot(*zip(*means), color=colours[system], lw=2)
    ax.axhline(0.0, color="0.4", lw=0.8)
    ax.set_xlabel("input SNR: SI-SDR of the unprocessed mixture (dB)")
    ax.set_ylabel("SI-SDRi (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, markerscale=1.5)
    return fig


def _header(result: Evaluation, command: str, title: str) -> str:
    from sepkit import __version__

    minutes = result.audio_seconds / 60
    when = datetime.date.today().isoformat()
    home = str(Path.home())
    shown = command.replace(home, "~") if home not in ("", "/") else command
    lines = [
        f"<h1>{esc(result.model)}{' on ' + esc(title) if title else ''}</h1>",
        f"<p>{esc(result.task)} · {result.files} files, {minutes:.1f} min of audio · metrics: "
        f"{esc(', '.join(result.metrics))} · sepkit {esc(__version__)}, {when}</p>",
    ]
    if shown:
        lines.append(f'<code class="cmd">{esc(shown)}</code>')
    return "\n".join(lines)


def _signals(result: Evaluation, stem: str) -> list[tuple[str, str, Path]]:
    """(label, system, file) of each signal of ``stem``: input, the model's output(s), the others', reference(s)."""
    base = _pair(result, UNPROCESSED, stem)
    if base is None:
        return []
    out: list[tuple[str, str, Path]] = [("input", UNPROCESSED, Path(base.mix))] if base.mix else []
    for system in [result.model, *(s for s in result.pairs if s not in (UNPROCESSED, result.model))]:
        pair = _pair(result, system, stem)
        if pair is not None:
            out += [
                (system if len(pair.ests) == 1 else f"{system} s{k + 1}", system, Path(p))
                for k, p in enumerate(pair.ests)
            ]
    out += [
        ("reference" if len(base.refs) == 1 else f"reference s{k + 1}", "", Path(p)) for k, p in enumerate(base.refs)
    ]
    return out


def _pair(result: Evaluation, system: str, stem: str) -> ScorePair | None:
    return next((p for p in result.pairs.get(system, []) if p.name == stem), None)


def _file_section(folder: Path, index: int, stem: str, why: list[str], result: Evaluation, anchor: str) -> str:
    """Write a chosen file's audio and spectrograms; its HTML section."""
    signals = [(label, system, *read_audio(path)) for label, system, path in _signals(result, stem)]
    specs = [spectrogram(audio, rate) for *_, audio, rate in signals]
    sub = f"{index:02d}_{_slug(stem)}"
    figures = []
    if specs:
        limits = shared_limits(specs)
        for (label, system, audio, rate), spec in zip(signals, specs):
            name = _slug(label)
            write_audio(folder / "audio" / sub / f"{name}.flac", audio, rate, AUDIO_SUBTYPE)
            save_figure(
                spectrogram_figure([("", spec)], limits, width=6.4, panel_height=1.7),  # the caption names it
                folder / "img" / sub / f"{name}.png",
                dpi=80,
            )
            scores = result.rows.get(system, {}).get(stem, {})
            line = " · ".join(
                f"{esc(k)} {number(v, 2)}"
                for k, v in scores.items()
                if not (system == UNPROCESSED and k.endswith("i") and k[:-1] in scores)
            )
            figures.append(
                f"<figure><figcaption>{esc(label)}</figcaption><small>{line}</small>"
                f'<img src="{quote(f"img/{sub}/{name}.png")}" alt="spectrogram: {esc(label)}">'
                f'<audio controls preload="metadata" src="{quote(f"audio/{sub}/{name}.flac")}"></audio>'
                "</figure>"
            )
    return (
        f'<h3 id="{anchor}">{esc(stem)} <span class="note">({esc(", ".join(why))})</span></h3>\n'
        f'<div class="signals">\n' + "\n".join(figures) + "\n</div>"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"


__all__ = ["check_request", "chosen_files", "write_report"]
