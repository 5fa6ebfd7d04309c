#!/usr/bin/env bash
# Train a segmental SNR estimator and export it (it has no test set: its validation error, in dB,
# is in the model card). From the repository root:
#   recipes/snr_estimator/run.sh recipes/snr_estimator/demo.yaml [key=value ...]
# Rerunning the same command after a stop resumes training from the last checkpoint. Ship the
# result as pretrained/snr-estimator for `sepkit personalize --purify` to find it by name.
exec "$(dirname "$0")/../train_and_evaluate.sh" "$@"
