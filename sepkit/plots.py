"""Spectrogram pictures: the one display spectrogram (dB) and figures of signals on one colour scale.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global state), so
training callbacks and the CLI can draw from any thread. matplotlib is imported inside the
functions that draw: importing this module stays cheap.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from sepkit.atomic import AtomicFile
from sepkit.audio.io import read_audio, same_file
from sepkit.errors import OutputError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

DYNAMIC_RANGE_DB = 80.0  # the colour scale spans this far below the loudest bin of the signals drawn together
MAX_COLUMNS = 2000  # longer signals get a longer hop, so a picture of an hour costs no more than one of a minute
FRAME_SECONDS = 0.032
COLOURMAP = "magma"


@dataclass(frozen=True)
class Spectrogram:
    """Power in dB, ``(bins, frames)``, and the seconds and hertz it spans (matplotlib's ``extent``)."""

    db: np.ndarray
    extent: tuple[float, float, float, float]

    @property
    def peak(self) -> float:
        return float(self.db.max())


def spectrogram(audio: np.ndarray, rate: int, max_columns: int = MAX_COLUMNS) -> Spectrogram:
    """The power spectrogram of ``audio`` ``(frames,)`` or ``(channels, frames)``, channels averaged, in dB.

    32 ms Hann frames every 8 ms, or further apart when that would give more than ``max_columns``.
    """
    from scipy.signal import ShortTimeFFT
    from scipy.signal.windows import hann

    x = np.asarray(audio, dtype=np.float64)
    x = x.mean(axis=0) if x.ndim == 2 else x
    n_fft = 2 ** max(5, round(math.log2(FRAME_SECONDS * rate)))
    hop = max(n_fft // 4, math.ceil(x.size / max_columns))
    stft = ShortTimeFFT(hann(n_fft, sym=False), hop, rate, scale_to="magnitude")
    power = stft.spectrogram(x, padding="even")  # mirrored at the ends: no dark edge columns
    return Spectrogram(10 * np.log10(power + 1e-12), stft.extent(x.size))


def shared_limits(spectrograms: Sequence[Spectrogram], span: float = DYNAMIC_RANGE_DB) -> tuple[float, float]:
    """One colour scale for signals drawn together: ``span`` dB up to the loudest bin of any of them."""
    top = max(s.peak for s in spectrograms)
    return top - span, top


def draw_spectrogram(ax: Axes, spec: Spectrogram, limits: tuple[float, float], title: str = "") -> AxesImage:
    """Draw ``spec`` on matplotlib axes ``ax`` (time in s, frequency in kHz); returns the image for a colour bar."""
    t0, t1, f0, f1 = spec.extent
    image = ax.imshow(
        spec.db,
        origin="lower",
        aspect="auto",
        extent=(t0, t1, f0 / 1000, f1 / 1000),
        cmap=COLOURMAP,
        vmin=limits[0],
        vmax=limits[1],
        interpolation="nearest",
    )
    ax.set_ylabel("kHz")
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    return image


def spectrogram_figure(
    panels: Sequence[tuple[str, Spectrogram]],
    limits: tuple[float, float] | None = None,
    width: float = 8.0,
    panel_height: float = 1.9,
) -> Figure:
    """One row per ``(title, spectrogram)``, all on one colour scale (``shared_limits`` unless given), one dB bar."""
    from matplotlib.figure import Figure

    limits = limits or shared_limits([s for _, s in panels])
    fig = Figure(figsize=(width, panel_height * len(panels) + 0.4), layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    image = None
    for ax, (title, spec) in zip(axes, panels):
        image = draw_spectrogram(ax, spec, limits, title)
    axes[-1].set_xlabel("time (s)")
    fig.colorbar(image, ax=list(axes), label="dB", aspect=12 * len(panels), pad=0.01)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG atomically (a temporary file beside ``path``, renamed into place)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    with AtomicFile(path) as out, open(out.path, "wb") as f:
        fig.savefig(f, format="png", dpi=dpi)
    return path


def save_spectrograms(panels: Sequence[tuple[str, np.ndarray, int]], path: str | os.PathLike[str]) -> Path:
    """A PNG of ``(title, audio, rate)`` signals stacked on one colour scale."""
    return save_figure(spectrogram_figure([(title, spectrogram(audio, rate)) for title, audio, rate in panels]), path)


def plot_path(path: Path, inputs: Sequence[Path], force: bool) -> Path:
    """``path`` checked as a picture to write: never an input, an existing file only with ``force``."""
    if any(same_file(path, src) for src in inputs):
        raise OutputError(f"{path}: is an input file; refusing to overwrite it with a plot")
    if path.exists() and not force:
        raise OutputError(f"{path}: already exists (use --force to overwrite)")
    return path


def save_before_after(path: Path, before: Path, after: Sequence[Path]) -> Path:
    """A PNG of the input file above its output file(s), one colour scale (``sepkit enhance/separate --plot``).

    Reads each file whole.
    """
    files = [("before", before), *((f"after{f' s{k + 1}' if len(after) > 1 else ''}", p) for k, p in enumerate(after))]
    return save_spectrograms([(f"{label}: {p.name}", *read_audio(p)) for label, p in files], path)


__all__ = [
    "Spectrogram",
    "plot_path",
    "save_before_after",
    "save_figure",
    "shared_limits",
    "spectrogram",
    "spectrogram_figure",
]
