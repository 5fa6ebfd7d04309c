#!/usr/bin/env bash
# Train an enhancement recipe, then score it on its test set beside the unprocessed input and
# noisereduce (one run; the table goes into the model's CARD.md). From the repository root:
#   recipes/enhance/run.sh recipes/enhance/demo.yaml [key=value ...]
# Rerunning the same command after a stop resumes training from the last checkpoint.
exec "$(dirname "$0")/../train_and_evaluate.sh" "$@"
