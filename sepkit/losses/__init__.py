"""Training losses: signal criteria, their pairwise forms, assignment search (PIT, MixIT) and spectral losses."""

from sepkit.losses.criteria import (
    neg_sd_sdr,
    neg_si_sdr,
    neg_snr,
    pairwise_neg_sd_sdr,
    pairwise_neg_si_sdr,
    pairwise_neg_snr,
    pairwise_thresholded_snr,
    thresholded_snr,
)
from sepkit.losses.mixit import mixit_assignment, mixit_loss, mixture_consistency, remix
from sepkit.losses.pit import best_assignment, pit_loss, reorder
from sepkit.losses.stft import MultiResolutionSTFTLoss

__all__ = [
    "MultiResolutionSTFTLoss",
    "best_assignment",
    "mixit_assignment",
    "mixit_loss",
    "mixture_consistency",
    "neg_sd_sdr",
    "neg_si_sdr",
    "neg_snr",
    "pairwise_neg_sd_sdr",
    "pairwise_neg_si_sdr",
    "pairwise_neg_snr",
    "pairwise_thresholded_snr",
    "pit_loss",
    "remix",
    "reorder",
    "thresholded_snr",
]
