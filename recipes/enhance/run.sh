#!/usr/bin/env bash
# Train an enhancement recipe, then score the exported model on the recipe's fixed test set.
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

sepkit enhance "$mix" --out-dir "$out/enhanced" --model "$model" --force
sepkit score --est "$out/enhanced" --ref "$ref" --mix "$mix" --metrics si_sdr,pesq,estoi,stoi \
  --jobs "${JOBS:-2}" --json "$out/scores.json" --csv "$out/scores.csv"
echo "scores: $out/scores.json"
