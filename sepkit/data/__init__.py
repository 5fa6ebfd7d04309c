"""Data layer: manifests, corpus preparation, on-the-fly mixing datasets, fixed evaluation sets."""

from sepkit.data.augment import Augmentation, apply_eq, early_rir, reverberate, speed_perturb
from sepkit.data.fixed_sets import FixedSetDataset, write_fixed_set
from sepkit.data.manifest import KINDS, SPLITS, file_entry, read_manifest, read_mixture_manifest, write_manifest
from sepkit.data.mixing import MixingDataset, NoisySpeechDataset, SpeakerMixtureDataset, rms, snr_db
from sepkit.data.prepare import PREPARERS, PrepareOptions, prepare
from sepkit.data.sources import AudioPool, load_entries
from sepkit.data.splits import split_groups

__all__ = [
    "KINDS", "SPLITS", "PREPARERS",
    "Augmentation", "AudioPool", "FixedSetDataset", "MixingDataset", "NoisySpeechDataset", "PrepareOptions",
    "SpeakerMixtureDataset",
    "apply_eq", "early_rir", "file_entry", "load_entries", "prepare", "read_manifest", "read_mixture_manifest",
    "reverberate", "rms", "snr_db", "speed_perturb", "split_groups", "write_fixed_set", "write_manifest",
]
