#!/usr/bin/env bash
# Train a MixIT recipe, then score the exported model on the recipe's fixed test set. The exported
# model returns the outputs chosen at validation (config.json "source_outputs"); the scorer
# matches them to the references by the best permutation. From the repository root:
#   recipes/mixit/run.sh recipes/mixit/demo.yaml [key=value ...]
# Rerunning the same command after a stop resumes training from the last checkpoint.
exec "$(dirname "$0")/../train_and_evaluate.sh" "$@"
