#!/usr/bin/env bash
# Pretrain an SSL encoder and export it (runs/<name>/export, task: ssl). SSL has no separation
# test set: its validation loss and accuracy are in the model card. The same script trains the
# separator/enhancer heads (demo_ssl_*.yaml), which are scored on their test sets. From the
# repository root:
#   recipes/ssl_pretrain/run.sh recipes/ssl_pretrain/demo_wav2vec2.yaml [key=value ...]
# Rerunning the same command after a stop resumes training from the last checkpoint.
exec "$(dirname "$0")/../train_and_evaluate.sh" "$@"
