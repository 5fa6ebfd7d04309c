"""Test-set evaluation of a model beside named baselines, measured in one run, and its card entry."""

from sepkit.evaluation.baselines import BASELINES, baseline_enhancer
from sepkit.evaluation.card import write_test_scores
from sepkit.evaluation.compare import Evaluation, evaluate

__all__ = ["BASELINES", "Evaluation", "baseline_enhancer", "evaluate", "write_test_scores"]
