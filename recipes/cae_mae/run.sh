#!/usr/bin/env bash
# Train a CAE/MAE recipe (unpaired clean and noisy data), then score the exported model on the
# recipe's paired test set beside the unprocessed input and noisereduce (one run; the table goes
# into the model's CARD.md). From the repository root:
#   recipes/cae_mae/run.sh recipes/cae_mae/demo.yaml [key=value ...]
# Rerunning the same command after a stop resumes training from the last checkpoint, in its stage.
exec "$(dirname "$0")/../train_and_evaluate.sh" "$@"
