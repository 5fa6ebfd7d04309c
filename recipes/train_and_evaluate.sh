#!/usr/bin/env bash
# What every recipe's run.sh does: train a config (resuming if it was stopped), export the best
# checkpoint, then score the exported model on the config's test set (test.mix, test.ref) with
# `sepkit evaluate`, which writes the table into the model's CARD.md. Enhancers are scored beside
# the unprocessed input and noisereduce in the same run; separators beside the unprocessed mixture.
#   recipes/train_and_evaluate.sh CONFIG [key=value ...]        (from the repository root)
set -euo pipefail
config=${1:?usage: recipes/train_and_evaluate.sh CONFIG [key=value ...]}
shift

model=$(sepkit train "$config" "$@" | tail -n 1)
if ! mix=$(sepkit config "$config" "$@" --get test.mix 2>/dev/null); then
  echo "$config has no test set (test.mix); the model is in $model" >&2
  exit 0
fi
ref=$(sepkit config "$config" "$@" --get test.ref)
out=$(sepkit config "$config" "$@" --get output_dir)/test

if [[ $(sepkit config "$config" "$@" --get task) == enhance ]]; then
  extra=(--baseline noisereduce --metrics si_sdr,pesq,estoi,dnsmos)
else
  extra=(--metrics si_sdr,sdr,pesq,estoi)
fi
sepkit evaluate "$model" --mix "$mix" --ref "$ref" "${extra[@]}" \
  --jobs "${JOBS:-2}" --work-dir "$out" --json "$out/scores.json" --update-card --test-name "$mix"
echo "scores: $out/scores.json"
