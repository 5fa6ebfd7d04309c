"""Score a model on a test set beside the unprocessed input and baselines, all in one run.

Every system's outputs are written under ``work_dir/<system>/`` and scored with the same
metrics and pairing as ``sepkit score``, so the comparison is apples to apples: the
"unprocessed" row scores the mixture itself as the estimate (for separation, the mixture
stands in for every source). A system whose scores are cached under the same key (``score_cache.py``) is
not run again.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import numpy as np

from sepkit.audio.io import audio_info, read_audio, write_audio
from sepkit.errors import ConfigError
from sepkit.evaluation.baselines import BASELINE_PACKAGES, BASELINES, baseline_enhancer
from sepkit.evaluation.paired import paired_difference
from sepkit.evaluation.score_cache import ScoreCache, folder_identity, package_version
from sepkit.metrics import ScorePair, pair_folders, score_pairs
from sepkit.metrics.fingerprint import audio_digest, set_pairs

if TYPE_CHECKING:
    from sepkit.api import SepkitModel

UNPROCESSED = "unprocessed"
Progress = Callable[[str, int, int], None]  # (stage, done, total)
Runner = Callable[[dict[str, Path], Path, Optional[Progress]], float]  # (mixtures, out dir, progress) -> seconds


@dataclass
class Evaluation:
    """Means per system (``unprocessed``, baselines, then the model) and the seconds each took to run."""

    model: str
    task: str
    files: int
    metrics: list[str]
    means: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    audio_seconds: float = 0.0
    rows: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # system -> file -> metric -> value
    pairs: dict[str, list[ScorePair]] = field(default_factory=dict)  # system -> the files scored (live with work_dir)
    test_set: str = ""  # the test set's audio digest (sepkit.metrics.fingerprint)
    reused: list[str] = field(default_factory=list)  # systems whose scores came from the cache (score_cache.py)

    def paired(self) -> dict[str, dict[str, dict[str, float]]]:
        """The model minus every other system, per metric, over the files both were scored on (``paired_difference``)."""
        mine = self.rows.get(self.model, {})
        cols = list(self.means.get(self.model, {}))
        cols = [c for c in cols if not (c.endswith("i") and c[:-1] in cols)]  # si_sdri differs as si_sdr does
        out: dict[str, dict[str, dict[str, float]]] = {}
        for system, rows in self.rows.items():
            if system == self.model:
                continue
            files = sorted(set(mine) & set(rows))
            out[system] = {
                col: paired_difference([mine[f][col] for f in files], [rows[f][col] for f in files]) for col in cols
            }
        return out

    def paired_table(self, diffs: dict[str, dict[str, dict[str, float]]] | None = None) -> str:
        """Markdown: the model minus each other system, mean difference [95 % interval] and the share of files won.

        ``diffs`` is ``paired()``'s result when the caller already has it (the bootstrap is not rerun).
        """
        diffs = self.paired() if diffs is None else diffs
        if not diffs:
            return ""
        cols = list(next(iter(diffs.values())))
        head = f"| {self.model} minus | " + " | ".join(cols) + " |\n|---|" + "---:|" * len(cols) + "\n"

        def cell(d: dict[str, float]) -> str:
            if not d["files"]:
                return "-"
            return f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] {100 * d['wins']:.0f} %"

        rows = [f"| {system} | " + " | ".join(cell(d[c]) for c in cols) + " |" for system, d in diffs.items()]
        return head + "\n".join(rows) + "\n"

    def table(self) -> str:
        """A Markdown table: one row per system, one column per metric mean, plus the real-time factor."""
        cols = [c for c in next(iter(self.means.values()))]
        head = "| system | " + " | ".join(cols) + " | RTF |\n|---|" + "---:|" * (len(cols) + 1) + "\n"
        rows = []
        for system, means in self.means.items():
            rtf = self.seconds.get(system)
            rtf_text = f"{rtf / self.audio_seconds:.4f}" if rtf is not None and self.audio_seconds else "-"
            rows.append(f"| {system} | " + " | ".join(_fmt(means.get(c)) for c in cols) + f" | {rtf_text} |")
        return head + "\n".join(rows) + "\n"


def evaluate(
    model_name_or_dir: str,
    mix_dir: Path,
    ref_dir: Path,
    work_dir: Path,
    baselines: Sequence[str] = (),
    metrics: Sequence[str] = ("si_sdr", "pesq", "estoi", "dnsmos"),
    jobs: int = 1,
    device: str = "cpu",
    progress: Progress | None = None,
    cache: ScoreCache | None = None,
    reuse: bool = True,
) -> Evaluation:
    """Run the model and each baseline over ``mix_dir``, then score every system against ``ref_dir``.

    A baseline is a classical enhancer by name (``noisereduce``) or another model (a shipped name or an
    exported folder) of the same task, so a new model is compared with the one it should replace. With a
    ``cache``, every system's scores are stored, and with ``reuse`` a system whose scores are stored under the
    same key (``score_cache.py``) is neither run nor scored: it is listed in ``reused``, has no outputs in
    ``work_dir`` and no timing.
    """
    from sepkit.api import load

    model = load(model_name_or_dir, device=device)
    runners = [_baseline(b, model, device) for b in baselines]  # bad names fail before any work
    names = [UNPROCESSED, *(name for name, _, _ in runners), model.name or str(model_name_or_dir)]
    clash = next((n for n in names if names.count(n) > 1), None)
    if clash is not None:
        raise ConfigError(f"two systems are called {clash!r}: give each baseline model its own name")
    unprocessed = set_pairs(mix_dir, ref_dir)  # the mixture stands in for every source
    mixes = {pair.name: pair.mix for pair in unprocessed if pair.mix}  # set_pairs gives every pair its mixture
    result = Evaluation(names[-1], model.task, len(mixes), list(metrics))
    result.audio_seconds = sum(audio_info(p).frames / audio_info(p).sample_rate for p in mixes.values())
    result.test_set = audio_digest(unprocessed)

    own: Runner = functools.partial(_run_model, result.model, model)
    systems: list[tuple[str, dict[str, str], Runner | None, Path]] = [
        (UNPROCESSED, {"kind": UNPROCESSED}, None, mix_dir),
        *((name, identity, run, work_dir / name) for name, identity, run in runners),
        (result.model, _model_identity(model_name_or_dir), own, work_dir / "model"),
    ]
    for name, identity, run, out in systems:
        key = None if cache is None else cache.key(identity, result.test_set, list(metrics), device)
        entry = cache.load(key) if cache is not None and reuse else None
        if entry is not None:
            result.means[name], result.rows[name] = entry["means"], entry["rows"]
            result.reused.append(name)
            continue
        if run is None:
            pairs = unprocessed
        else:
            result.seconds[name] = run(mixes, out, progress)
            pairs = pair_folders(out, ref_dir, mix_dir)[0]
        tick = (lambda done, total, n=name: progress(f"scoring {n}", done, total)) if progress else None
        scores = score_pairs(pairs, list(metrics), jobs=jobs, progress=tick)
        result.means[name] = {k: float(v) for k, v in scores.means.items()}
        result.rows[name] = {row["name"]: {k: float(row[k]) for k in scores.means} for row in scores.rows}
        result.pairs[name] = pairs
        if cache is not None:
            cache.store(key, result.means[name], result.rows[name])
    return result


def _model_identity(name_or_dir: str) -> dict[str, str]:
    """A sepkit model as its content: the digest of its folder's weights and config."""
    from sepkit.pretrained import resolve_model_dir

    return {"kind": "model", "content": folder_identity(resolve_model_dir(name_or_dir))}


def _baseline(name: str, model: SepkitModel, device: str) -> tuple[str, dict[str, str], Runner]:
    """The system name, identity and runner of baseline ``name``: a classical enhancer of that name, else the model
    it resolves to, which must do ``model``'s task."""
    from sepkit.api import load
    from sepkit.pretrained import shipped_models

    if name in BASELINES:
        if model.task != "enhance":
            raise ConfigError(f"baseline {name} is an enhancer; {model.name} is a {model.task} model")
        package = BASELINE_PACKAGES[name]
        identity = {"kind": "baseline", "name": name, "package": package, "version": package_version(package)}
        return name, identity, functools.partial(_run_enhancer, name, baseline_enhancer(name))
    if not Path(name).is_dir() and name not in shipped_models():
        raise ConfigError(
            f"unknown baseline {name!r}: not one of {', '.join(sorted(BASELINES))}, a shipped model or a model folder"
        )
    other = load(name, device=device)
    if other.task != model.task:
        raise ConfigError(f"baseline {name} does {other.task}, not {model.task} like {model.name}")
    system = other.name or Path(name).name
    return system, _model_identity(name), functools.partial(_run_model, system, other)


def _run_model(name: str, model: SepkitModel, mixes: dict[str, Path], out: Path, progress: Progress | None) -> float:
    """Enhance or separate every mixture with ``model`` into ``out``; the seconds it took."""
    start = time.perf_counter()
    for i, (stem, mix) in enumerate(sorted(mixes.items())):
        if model.task == "enhance":
            model.enhance_file(mix, out / f"{stem}.wav", force=True)
        else:
            model.separate_file(mix, out, force=True)
        if progress:
            progress(name, i + 1, len(mixes))
    return time.perf_counter() - start


def _run_enhancer(
    name: str,
    run: Callable[[np.ndarray, int], np.ndarray],
    mixes: dict[str, Path],
    out: Path,
    progress: Progress | None,
) -> float:
    """Enhance every mixture with ``run`` into ``out/<stem>.wav``; the seconds spent inside ``run``."""
    spent = 0.0
    for i, (stem, path) in enumerate(sorted(mixes.items())):
        audio, rate = read_audio(path)
        start = time.perf_counter()
        clean = run(audio, rate)
        spent += time.perf_counter() - start
        write_audio(out / f"{stem}.wav", clean, rate, "FLOAT")
        if progress:
            progress(name, i + 1, len(mixes))
    return spent


def _fmt(value: float | None) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.3f}"
