#!/usr/bin/env bash
# Train a separation recipe, then score the exported model on the recipe's fixed test set
# (outputs matched to the references by the best permutation). Run from the repository root:
#   recipes/pit/run.sh recipes/pit/demo.yaml [key=value ...]
# Rerunning the same command after a stop resumes training from the last checkpoint.
set -euo pipefail
config=${1:?usage: recipes/pit/run.sh CONFIG [key=value ...]}
shift

if [[ "$config" == *demo3.yaml && ! -d $(sepkit config "$config" "$@" --get test.mix) ]]; then
  # The demo corpus ships fixed 2-speaker sets only: write the 3-speaker test set once.
  ref=$(sepkit config "$config" "$@" --get test.ref)
  python - "$(sepkit config "$config" "$@" --get corpus)" "$ref" <<'PY'
import sys
from sepkit.data import SpeakerMixtureDataset, write_fixed_set
corpus, out = sys.argv[1], sys.argv[2]
data = SpeakerMixtureDataset(f"{corpus}/manifests/speech.jsonl", n_src=3, segment_seconds=(4.0, 6.0),
                             gain_range_db=(-5.0, 5.0), split="test", seed=23, length=150)
write_fixed_set(data, out, 150, split="test")
PY
fi

exec "$(dirname "$0")/../train_and_evaluate.sh" "$config" "$@"
