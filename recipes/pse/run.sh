#!/usr/bin/env bash
# Personalisation on one held-out speaker of the demo corpus, every variant, scored the same way
# (README.md). From the repository root:
#   recipes/pse/run.sh SPEAKER [key=value ...]        e.g. recipes/pse/run.sh asterisk-ivrvoiceru
# Needs pretrained/enhance-default (the base and the generalist baseline) and, for the *_dp
# variants, pretrained/snr-estimator (recipes/snr_estimator). Reruns resume stopped trainings.
set -euo pipefail
speaker=${1:?usage: recipes/pse/run.sh SPEAKER [key=value ...]}
shift
data=${PSE_DATA:-$(sepkit data root)/pse}/$speaker
runs=runs/pse/$speaker
here=$(dirname "$0")

[[ -f $data/fixed/test/manifest.jsonl ]] || python "$here/prepare.py" "$speaker" "$data"
mkdir -p "$runs"
# the generalist of the same size, on the same test set
sepkit evaluate enhance-default --mix "$data/fixed/test/mix" --ref "$data/fixed/test/s1" \
  --metrics si_sdr,pesq,estoi --jobs "${JOBS:-2}" --json "$runs/generalist.json"
for variant in pseudose cm pseudose_dp cm_dp supervised; do
  "$here/../train_and_evaluate.sh" "$here/$variant.yaml" "corpus=$data" "output_dir=$runs/$variant" "$@"
done
echo "scores: $runs/generalist.json and $runs/<variant>/test/scores.json"
