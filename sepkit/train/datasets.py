"""Build a dataset from a config section ``{type: ..., <arguments>}``: one factory for every paradigm.

``type`` picks the class (the on-the-fly mixers and the fixed-set reader from ``sepkit.data``,
or the manifest-free ``synthetic`` set); every other key is passed to it as a keyword argument,
except that a mixing set's options (``sepkit.data.mixing.MixingOptions``: SNR, level, segment,
augmentation, ...) are gathered into one ``options`` object first.
``sample_rate`` comes from the top level of the config and ``seed`` defaults to the run's seed
(plus one for validation, so the two sets never share a mixture). Two keys are ours: on a
``fixed`` set, ``segment_seconds`` trains on random crops of that length (``RandomSegments``);
``augment``/``noise_augment`` mappings become ``sepkit.data.Augmentation`` objects, and a
``corrupt`` mapping a ``sepkit.data.corruption.Corruption``.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from torch.utils.data import Dataset

from sepkit.errors import ConfigError, SepkitError


def _noisy_speech() -> Callable[..., Dataset]:
    from sepkit.data import NoisySpeechDataset

    return NoisySpeechDataset


def _speaker_mixture() -> Callable[..., Dataset]:
    from sepkit.data import SpeakerMixtureDataset

    return SpeakerMixtureDataset


def _fixed() -> Callable[..., Dataset]:
    from sepkit.data import FixedSetDataset

    return FixedSetDataset


def _premixtures() -> Callable[..., Dataset]:
    from sepkit.data.premixtures import PremixtureDataset

    return PremixtureDataset


def _synthetic() -> Callable[..., Dataset]:
    from sepkit.train.synthetic import SyntheticMixtures

    return SyntheticMixtures


def _clean_speech() -> Callable[..., Dataset]:
    from sepkit.data.unpaired import CleanSpeechDataset

    return CleanSpeechDataset


def _unpaired() -> Callable[..., Dataset]:
    from sepkit.train.unpaired_data import build_unpaired

    # its two sides are dataset sections of their own, built by this module's factory
    return functools.partial(build_unpaired, build_section=build_dataset)


# Arguments the factory fills itself, never config keys: the mixing sets' gathered options, a composite
# type's builder of its sub-sections.
INJECTED = ("options", "build_section")
DATASETS: dict[str, Callable[[], Callable[..., Dataset]]] = {
    "noisy_speech": _noisy_speech,
    "speaker_mixture": _speaker_mixture,
    "fixed": _fixed,
    "synthetic": _synthetic,
    "premixtures": _premixtures,  # personalize: one speaker's noisy recordings + injected noise
    "clean_speech": _clean_speech,  # CAE/MAE: clean speech alone
    "unpaired": _unpaired,  # CAE/MAE: a clean and a noisy set, never the same utterance
}


def build_dataset(spec: dict[str, Any], where: str, sample_rate: int, seed: int) -> Dataset:
    """The dataset that section ``where`` (e.g. ``data.train``) describes; ``ConfigError`` on a bad type or argument."""
    if not isinstance(spec, dict) or "type" not in spec:
        raise ConfigError(f"{where}: needs a 'type' ({', '.join(DATASETS)})")
    args = {k: v for k, v in spec.items() if k != "type" and v is not None}  # null: unset (e.g. a key a base file set)
    kind = spec["type"]
    if kind not in DATASETS:
        raise ConfigError(f"{where}.type: unknown dataset type {kind!r} (known: {', '.join(DATASETS)})")
    segment = args.pop("segment_seconds", None) if kind == "fixed" else None
    for key in ("augment", "noise_augment"):
        if isinstance(args.get(key), dict):
            args[key] = _augmentation(args[key], f"{where}.{key}")
    if isinstance(args.get("corrupt"), dict):
        args["corrupt"] = _corruption(args["corrupt"], f"{where}.corrupt")
    cls = DATASETS[kind]()
    option_keys = getattr(cls, "option_keys", ())  # the mixing sets: these keys make one MixingOptions
    params = inspect.signature(cls).parameters
    accepted = [k for k in params if k not in INJECTED] + list(option_keys)
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    for key in args:
        if key not in accepted and not takes_any:
            raise ConfigError(f"{where}: unknown key {key!r} for type {kind} (known: {', '.join(accepted)})")
    for key, value in (("sample_rate", sample_rate), ("seed", seed)):
        if key in accepted and key not in args:
            args[key] = value
    if args.get("sample_rate", sample_rate) != sample_rate:
        raise ConfigError(f"{where}.sample_rate is {args['sample_rate']} but the run's sample_rate is {sample_rate}")
    try:
        if option_keys:
            args["options"] = cls.make_options(**{k: args.pop(k) for k in option_keys if k in args})
        dataset = cls(**args)
    except SepkitError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot build {kind} dataset: {exc}") from exc
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ConfigError(f"{where}: the {kind} dataset is empty")
    if segment is not None:
        from sepkit.train.segments import RandomSegments

        dataset = RandomSegments(dataset, float(segment), sample_rate, seed)
    return dataset


def _corruption(opts: dict[str, Any], where: str) -> Any:
    from sepkit.data.corruption import Corruption

    try:
        return Corruption(**{k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _augmentation(opts: dict[str, Any], where: str) -> Any:
    from sepkit.data import Augmentation

    try:
        return Augmentation(**{k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()})
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
