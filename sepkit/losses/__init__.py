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
from sepkit.losses.intelligibility import NegEstoiLoss
from sepkit.losses.mixit import mixit_assignment, mixit_loss, mixture_consistency
from sepkit.losses.pit import assignment_table, best_assignment, pit_loss, reorder
from sepkit.losses.stft import CompressedSpectrumLoss, MultiResolutionSTFTLoss
from sepkit.losses.vae import (
    CycleTerms,
    cycle_terms,
    gaussian_kl,
    kl_unit_variance,
    masked_mean,
    moment_matching,
    reconstruction_loss,
    silence_loss,
)

__all__ = [
    "CycleTerms",
    "CompressedSpectrumLoss",
    "MultiResolutionSTFTLoss",
    "NegEstoiLoss",
    "assignment_table",
    "best_assignment",
    "cycle_terms",
    "gaussian_kl",
    "kl_unit_variance",
    "masked_mean",
    "moment_matching",
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
    "reconstruction_loss",
    "reorder",
    "silence_loss",
    "thresholded_snr",
]
