"""What ``sepkit personalize`` does below the command line: a folder of recordings in, a model folder out.

1. Find the user's recordings (every readable audio file under the folder), refuse too little
   audio (``MIN_SECONDS``), hold out about a tenth of the recordings for validation.
2. Pick the rate: the recordings' own (the rate holding most of the audio), with the base model
   rebuilt at that rate when its architecture can be (``fast_enhancer``: same window and hop in
   seconds, weights mapped by frequency); otherwise the base's rate, to which the recordings are
   resampled and at which the model then runs (the inference engine resamples for it).
3. Write a training config (paradigm ``personalize``, ``sepkit.train.personalize``) and the
   manifests into ``OUT/training``, train with the shared spine (checkpoints there; the same
   command again resumes), and export the best checkpoint into ``OUT`` itself, so ``OUT`` is a
   model folder.

No clean speech exists here, so validation is the PseudoSE task on the held-out recordings:
SI-SDRi of f(p + n) against p for premixtures p of recordings training never saw.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from sepkit.data.manifest import read_manifest, write_manifest
from sepkit.data.recordings import native_rate, scan_recordings, total_seconds
from sepkit.errors import AudioError, ConfigError, ModelError, OutputError
from sepkit.losses.segmental import REDUCTIONS
from sepkit.pretrained import ModelConfig, read_config, resolve_model_dir
from sepkit.train.warm_start import args_at, run_rate

MIN_SECONDS = 60.0  # least audio (all recordings together) worth personalising on
WORK_DIR = "training"  # OUT/training: config, manifests, checkpoints, logs
NOISE_ENV = "SEPKIT_NOISE"  # a noise folder or manifest used when --noise is not given
VALID_ITEMS = 16  # held-out premixtures (with injected noise) scored at every validation
CACHE_SECONDS = 7200.0  # recordings up to this much audio are kept in memory (float32 at the run's rate)
# Settings that may change when a stopped run is started again (the steps taken stay the same).
RESUMABLE_CHANGES = ("trainer.max_steps", "trainer.accelerator", "data.num_workers", "export")


@dataclass
class PersonalizeOptions:
    """Everything ``sepkit personalize`` is asked to do."""

    noisy_dir: Path
    out: Path
    base: str = "enhance-default"
    method: str = "pseudose"
    purify: bool = False
    snr_model: str = "snr-estimator"
    purify_form: str = "target"  # personalize.purify.reduce: target | frames | energy
    noise: str | None = None
    device: str = "auto"
    steps: int = 500
    batch_size: int = 8
    lr: float = 1e-4
    validate_every: int = 50
    segment_seconds: float = 2.0
    snr_range: tuple[float, float] = (-5.0, 5.0)  # injected noise against the premixture, dB (the papers')
    seed: int = 0


def personalize(opts: PersonalizeOptions, command: str = "", callbacks: Sequence[Any] = ()) -> Path:
    """Personalise ``opts.base`` on the recordings in ``opts.noisy_dir``; returns the model folder ``opts.out``."""
    from sepkit.train.run import train

    config = prepare(opts)
    train(
        config,
        resume=True,
        command=command or "(Python API: sepkit.train.personalize_job.personalize)",
        callbacks=callbacks,
    )
    return opts.out


def prepare(opts: PersonalizeOptions) -> dict[str, Any]:
    """Check the inputs, write the manifests and return the training config (nothing is trained)."""
    if opts.method not in ("pseudose", "cm"):
        raise ConfigError(f"--method must be pseudose or cm, not {opts.method!r}")
    if opts.purify_form not in REDUCTIONS:
        raise ConfigError(f"--purify-form must be one of {', '.join(REDUCTIONS)}, not {opts.purify_form!r}")
    if opts.steps < 1 or opts.batch_size < (2 if opts.method == "cm" else 1) or opts.validate_every < 1:
        raise ConfigError("--steps and --validate-every must be at least 1, --batch-size at least 1 (2 for cm)")
    entries = recordings(opts.noisy_dir)
    base = base_model(opts.base)
    rate = run_rate(base, native_rate(entries))
    estimator = snr_model(opts.snr_model) if opts.purify else None
    estimator_arch = read_config(estimator).arch if estimator is not None else None
    if estimator_arch is not None and opts.purify_form == "target" and estimator_arch != "enhancer_snr":
        raise ModelError(
            f"--purify-form target needs an estimator that also estimates the speech (arch enhancer_snr, "
            f"as the shipped snr-estimator); {opts.snr_model} is a {estimator_arch}: "
            f"pass --purify-form frames or energy"
        )
    noise = noise_entries(opts.noise)
    work = check_out(opts.out)
    rec_manifest, noise_manifest = work / "recordings.jsonl", work / "noise.jsonl"
    config = build_config(opts, entries, base, rate, estimator, rec_manifest, noise_manifest)
    check_same_run(work, config)  # before anything of a stopped run is overwritten
    write_manifest(entries, rec_manifest)
    write_manifest(noise, noise_manifest)
    return config


def recordings(folder: Path) -> list[dict[str, Any]]:
    """The user's recordings, split by recording; ``AudioError`` when there are none or too few."""
    if not folder.is_dir():
        raise AudioError(f"{folder}: no such folder (give the folder of the speaker's noisy recordings)")
    entries, problems = scan_recordings(folder)
    if not entries:
        why = f"{len(problems)} unreadable, e.g. {problems[0]}" if problems else "none found"
        raise AudioError(f"{folder}: no audio files to personalise on ({why})")
    seconds = total_seconds(entries)
    if seconds < MIN_SECONDS:
        raise AudioError(
            f"{folder}: only {seconds:.1f} s of audio in {len(entries)} file(s); personalisation needs "
            f"at least {MIN_SECONDS:.0f} s of the speaker's recordings"
        )
    for line in problems[:3]:
        print(f"sepkit: warning: skipped {line}", file=sys.stderr, flush=True)
    return entries


def base_model(name: str) -> ModelConfig:
    """The base enhancer's config; ``ModelError`` unless it is a one-output enhancer."""
    config = read_config(resolve_model_dir(name))
    if config.task != "enhance" or config.n_src != 1 or config.source_outputs:
        raise ModelError(
            f"--base {name}: a {config.task} model with {config.n_src} output(s); personalisation starts "
            f"from a one-output enhancer such as enhance-default"
        )
    return config


def snr_model(name: str) -> Path:
    """The segmental SNR estimator folder ``--purify`` needs; a clear ``ModelError`` when there is none."""
    try:
        path = resolve_model_dir(name)
    except ModelError:
        raise ModelError(
            f"--purify needs a segmental SNR estimator, and {name!r} is neither a shipped model nor a "
            f"model folder: train one (recipes/snr_estimator/run.sh) and pass --snr-model DIR, "
            f"or drop --purify"
        ) from None
    if read_config(path).task != "snr":
        raise ModelError(f"--snr-model {name}: a {read_config(path).task} model, not a segmental SNR estimator")
    return path.resolve()


def noise_entries(noise: str | None) -> list[dict[str, Any]]:
    """Entries of the noise set: a folder of noise recordings or a noise manifest (its train split when it has one)."""
    given = noise or os.environ.get(NOISE_ENV)
    if not given:
        raise ConfigError(
            f"no noise set given: sepkit ships none, so pass --noise DIR (a folder of noise "
            f"recordings, without speech) or --noise FILE.jsonl (a noise manifest), or set ${NOISE_ENV}"
        )
    path = Path(given)
    if path.is_dir():
        entries, problems = scan_recordings(path, dev_fraction=0.0, speaker=None, kind="noise")
        if not entries:
            raise AudioError(f"{path}: no readable noise recordings ({len(problems)} unreadable)")
        return entries
    if not path.is_file():
        raise ConfigError(f"--noise {given}: no such folder or manifest file")
    listed = read_manifest(path, check=False)
    entries = [e for e in listed if e["kind"] == "noise"] or listed
    train = [e for e in entries if e["split"] == "train"]
    return [{**e, "split": "train"} for e in (train or entries)]


def check_out(out: Path) -> Path:
    """``OUT/training``, created; ``OutputError`` if ``OUT`` holds something other than a personalisation."""
    work = out / WORK_DIR
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not work.is_dir():
        raise OutputError(f"{out}: exists and is not a personalisation folder (no {WORK_DIR}/): pick another --out")
    work.mkdir(parents=True, exist_ok=True)
    return work


def build_config(
    opts: PersonalizeOptions,
    entries: list[dict[str, Any]],
    base: ModelConfig,
    rate: int,
    estimator: Path | None,
    rec_manifest: Path,
    noise_manifest: Path,
) -> dict[str, Any]:
    """The training config of one personalisation run."""
    args = {k: v for k, v in args_at(base, rate).items() if k != "sample_rate"}
    held_out = any(e["split"] == "dev" for e in entries)
    premixtures = {
        "type": "premixtures",
        "recordings": str(rec_manifest),
        "noise_manifest": str(noise_manifest),
        "noise_split": "train",
        "segment_seconds": float(opts.segment_seconds),
        "snr_range": [float(v) for v in opts.snr_range],
        "cache": total_seconds(entries) <= CACHE_SECONDS,
    }
    minutes = total_seconds(entries) / 60
    base_dir = resolve_model_dir(opts.base).resolve()
    return {
        "task": "enhance",
        "paradigm": "personalize",
        "sample_rate": int(rate),
        "seed": int(opts.seed),
        "model": {"arch": base.arch, "args": args},
        "personalize": {
            "method": opts.method,
            "init_from": str(base_dir),
            "distance": "snr",
            "purify": ({"model": str(estimator), "reduce": opts.purify_form} if estimator is not None else None),
        },
        "data": {
            "train": {**premixtures, "split": "train", "length": int(opts.batch_size) * int(opts.validate_every)},
            "valid": {**premixtures, "split": "dev" if held_out else "train", "length": VALID_ITEMS},
            "batch_size": int(opts.batch_size),
            "num_workers": 0,
        },
        "optim": {"name": "adam", "lr": float(opts.lr), "weight_decay": 0.0},
        "trainer": {
            "max_steps": int(opts.steps),
            "accelerator": accelerator(opts.device),
            "devices": 1,
            "gradient_clip_val": 5.0,
            "log_every_n_steps": min(10, int(opts.validate_every)),
            "enable_progress_bar": False,
            "enable_model_summary": False,
        },
        # an epoch is validate_every steps: validation (and a checkpoint) after each
        "checkpoint": {
            "every_n_train_steps": max(1, min(int(opts.validate_every), 25)),
            "keep": 1,
            "monitor": "val/si_sdri",
            "mode": "max",
        },
        "validation": {"metric_items": 0, "metrics": []},
        "output_dir": str((opts.out / WORK_DIR).resolve()),
        "export": {
            "dir": str(opts.out.resolve()),
            "name": opts.out.name,
            "training_data": (
                f"{len(entries)} noisy recordings ({minutes:.1f} min) of one speaker in "
                f"{opts.noisy_dir}, "
                f"noise injected at {opts.snr_range[0]:g}..{opts.snr_range[1]:g} dB"
            ),
            "description": (
                f"{base.name or opts.base} personalised to one speaker with "
                f"{'contrastive mixtures' if opts.method == 'cm' else 'PseudoSE'}"
                f"{' and data purification' if estimator is not None else ''} (sepkit personalize). "
                f"Validation scores are PseudoSE scores on "
                f"{'held-out' if held_out else 'the training'} recordings with injected noise "
                f"(the target is the noisy recording itself), not scores against clean speech."
            ),
        },
    }


def accelerator(device: str) -> str:
    """Lightning's accelerator for ``--device`` (auto, cpu, cuda); ``ConfigError`` for a CUDA that is not there."""
    if device == "auto":
        return "auto"
    if device == "cpu":
        return "cpu"
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: no CUDA GPU is available (use --device cpu)")
        return "gpu"
    raise ConfigError(f"--device must be auto, cpu or cuda, not {device!r}")


def check_same_run(work: Path, config: dict[str, Any]) -> None:
    """Refuse to resume a run in ``work`` that was started with other settings (a changed --steps is fine)."""
    path = work / "config.yaml"
    if not path.is_file():
        return
    from sepkit.train.run import _diff

    before = yaml.safe_load(path.read_text()) or {}
    changed = [k for k in _diff(before, config) if not k.startswith(RESUMABLE_CHANGES)]
    if changed:
        raise OutputError(
            f"{work.parent}: holds a personalisation started with other settings "
            f"({', '.join(changed[:4])}): rerun the same command to resume it, or pick another --out"
        )
