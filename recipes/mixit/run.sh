#!/usr/bin/env bash
# Train a MixIT recipe, then score the exported model on the recipe's fixed test set. The exported
# model returns the outputs chosen at validation (config.json "source_outputs"); the scorer
# matches them to the references by the best permutation. Run from the repository root:
#   recipes/mixit/run.sh recipes/mixit/demo.yaml [key=value ...]
# Rerunning the same command after a stop resumes training from the last checkpoint.
set -euo pipefail
config=${1:?usage: recipes/mixit/run.sh CONFIG [key=value ...]}
shift

model=$(sepkit train "$config" "$@" | tail -n 1)
if ! mix=$(sepkit config "$config" "$@" --get test.mix 2>/dev/null); then
  echo "$config has no test set (test.mix); the model is in $model" >&2
  exit 0
fi
ref=$(sepkit config "$config" "$@" --get test.ref)
out=$(sepkit config "$config" "$@" --get output_dir)/test

if [[ $(sepkit config "$config" "$@" --get task) == enhance ]]; then
  metrics=si_sdr,pesq,estoi,dnsmos
else
  metrics=si_sdr,sdr,pesq,estoi
fi
sepkit evaluate "$model" --mix "$mix" --ref "$ref" --metrics "$metrics" \
  --jobs "${JOBS:-2}" --work-dir "$out" --json "$out/scores.json" --update-card --test-name "$mix"
echo "scores: $out/scores.json"
