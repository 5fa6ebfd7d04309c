#!/usr/bin/env bash
# Train an enhancement recipe, then score the exported model on the recipe's fixed test set
# beside the unprocessed input and noisereduce, all in one run; the scores go into its CARD.md.
# Run from the repository root:
#   recipes/enhance/run.sh recipes/enhance/demo.yaml [key=value ...]
# Rerunning the same command after a stop resumes training from the last checkpoint.
set -euo pipefail
config=${1:?usage: recipes/enhance/run.sh CONFIG [key=value ...]}
shift

model=$(sepkit train "$config" "$@" | tail -n 1)
if ! mix=$(sepkit config "$config" "$@" --get test.mix 2>/dev/null); then
  echo "$config has no test set (test.mix); the model is in $model" >&2
  exit 0
fi
ref=$(sepkit config "$config" "$@" --get test.ref)
out=$(sepkit config "$config" "$@" --get output_dir)/test

sepkit evaluate "$model" --mix "$mix" --ref "$ref" --baseline noisereduce --metrics si_sdr,pesq,estoi,dnsmos \
  --jobs "${JOBS:-2}" --work-dir "$out" --json "$out/scores.json" --update-card --test-name "$mix"
echo "scores: $out/scores.json"
