"""Test-set evaluation of a model beside named baselines, measured in one run, and its card entry."""

from sepkit.evaluation.card import write_test_scores
from sepkit.evaluation.compare import Evaluation, evaluate

__all__ = ["Evaluation", "evaluate", "write_test_scores"]
