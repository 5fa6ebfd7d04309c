"""Speech quality and separation metrics, matching of separated outputs, and batch scoring of files.

>>> from sepkit.metrics import si_sdr, pesq, score_pairs, pair_folders
>>> si_sdr(est, ref)                                  # 1-D numpy arrays, dB
>>> pairs, _ = pair_folders(Path("est"), Path("ref"))
>>> scores = score_pairs(pairs, "si_sdr,pesq,stoi", jobs=4)
"""

from sepkit.metrics._common import MetricWarning
from sepkit.metrics.nonintrusive import dnsmos
from sepkit.metrics.intrusive import estoi, pesq, sdr, stoi
from sepkit.metrics.matching import best_permutation, pairwise_scores
from sepkit.metrics.pairing import pair_folders
from sepkit.metrics.registry import Metric, get_metrics, metric_columns
from sepkit.metrics.scoring import ScorePair, Scores, score_pairs, score_signals
from sepkit.metrics.sisdr import si_sdr, si_sdr_torch

__all__ = [
    "Metric",
    "MetricWarning",
    "ScorePair",
    "Scores",
    "best_permutation",
    "dnsmos",
    "estoi",
    "get_metrics",
    "metric_columns",
    "pair_folders",
    "pairwise_scores",
    "pesq",
    "score_pairs",
    "score_signals",
    "sdr",
    "si_sdr",
    "si_sdr_torch",
    "stoi",
]
