#!/usr/bin/env bash
# Every personalisation variant of `sepkit personalize` (its defaults: 500 steps from enhance-default)
# for one held-out speaker of the demo corpus, each scored on that speaker's held-out test set.
# From the repository root:
#   recipes/pse/grid.sh SPEAKER [PREMIX_LO PREMIX_HI]     e.g. recipes/pse/grid.sh asterisk-ivrvoiceru -5 5
# The "user's recordings" are the first 200 premixtures prepare.py writes (the speaker's train
# utterances in dev-split noise at U(PREMIX_LO, PREMIX_HI) dB, default 0 10). Variants:
#   pseudose, cm            from the noisy recordings alone
#   pseudose_dp, cm_dp      the same with data purification (needs pretrained/snr-estimator)
#   upper                   PseudoSE on the same 200 recordings *before* their noise was added: the
#                           supervised speaker-specific upper bound, with the same pipeline and steps
#   pseudose_frames         pseudose_dp with every frame weighted alike (the per-frame loss alone)
#   pseudose_oracle         pseudose_dp with the true SNR of each frame instead of the estimator's
#   *_energy                the same weights in one SNR of weighted frame energies (purify.reduce: energy)
#   *_dp_target             the same weights in a purified target instead (--purify-form target, the default)
#   *_distill               *_dp_target with every weight 0: the enhancer's estimate as the only target
# Scores: runs/pse-grid/SPEAKER_LO_HI/<variant>.json (sepkit evaluate); summary: grid_table.py.
# Reruns skip what is done and resume what was stopped. VARIANTS="pseudose cm" runs only those (the
# ablations need their DP variant's run); SNR_MODEL=DIR rates the recordings with another estimator.
set -euo pipefail
speaker=${1:?usage: recipes/pse/grid.sh SPEAKER [PREMIX_LO PREMIX_HI]}
lo=${2:-0}
hi=${3:-10}
here=$(dirname "$0")
data=${PSE_DATA:-$(sepkit data root)/pse}/${speaker}_${lo}_${hi}
runs=runs/pse-grid/${speaker}_${lo}_${hi}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

[[ -f $data/fixed/test/manifest.jsonl ]] || python "$here/prepare.py" "$speaker" "$data" --premixture-snr "$lo" "$hi"
mkdir -p "$runs" "$data/user200" "$data/user200_clean"
for f in $(ls "$data/premixtures" | head -200); do
  ln -sf "$data/premixtures/$f" "$data/user200/$f"
  ln -sf "$data/premixtures_clean/$f" "$data/user200_clean/$f"
done
noise=$data/inject_noise.jsonl
test=$data/fixed/test

wanted() {  # NAME: in $VARIANTS, or every variant when it is unset
  [[ -z ${VARIANTS:-} || " $VARIANTS " == *" $1 "* ]]
}
score() {  # MODEL NAME
  wanted "$2" || return 0
  [[ -f $runs/$2.json ]] || sepkit evaluate "$1" --mix "$test/mix" --ref "$test/s1" --metrics si_sdr,pesq,estoi \
    --jobs "${JOBS:-1}" --json "$runs/$2.json" > /dev/null
}
personalize() {  # NAME FOLDER [sepkit personalize options]
  local name=$1 folder=$2
  shift 2
  wanted "$name" || return 0
  [[ -f $runs/$name/config.json ]] || sepkit personalize "$folder" --out "$runs/$name" --noise "$noise" --device cpu "$@"
  score "$runs/$name" "$name"
}

ablation() {  # NAME FROM [overrides]: FROM's personalisation rerun by sepkit train with overrides
  local name=$1 from=$2
  shift 2
  wanted "$name" || return 0
  [[ -f $runs/$name/config.json ]] || sepkit train "$runs/$from/training/config.yaml" \
    "output_dir=$runs/$name/training" "export.dir=$runs/$name" "export.name=$name" "$@"
  score "$runs/$name" "$name"
}

score enhance-default generalist
personalize pseudose "$data/user200"
personalize cm "$data/user200" --method cm
personalize upper "$data/user200_clean"
purify=(--purify ${SNR_MODEL:+--snr-model "$SNR_MODEL"})
personalize pseudose_dp "$data/user200" "${purify[@]}" --purify-form frames   # the papers' loss
personalize cm_dp "$data/user200" --method cm "${purify[@]}" --purify-form frames
# the weights in the target instead of the loss (the default --purify-form target): the plain distance to
# ŝ + w·(p − ŝ), where ŝ is the estimator's enhancer's speech estimate of the recording
personalize pseudose_dp_target "$data/user200" "${purify[@]}" --purify-form target
personalize cm_dp_target "$data/user200" --method cm "${purify[@]}" --purify-form target
# what purification is made of: the per-frame loss with equal weights (slope 0: every w_t = 0.5), and the
# weights of a perfect estimator (the true SNR of each frame, from the recordings' clean versions)
ablation pseudose_frames pseudose_dp personalize.purify.slope=0
[[ -f $runs/pseudose_dp/training/recordings.jsonl ]] && python - "$runs/pseudose_dp/training/recordings.jsonl" "$runs/with_clean.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        e = json.loads(line)
        out.write(json.dumps({**e, "clean": e["path"].replace("/premixtures/", "/premixtures_clean/")}) + "\n")
PY
ablation pseudose_oracle pseudose_dp personalize.purify.model=oracle data.train.with_clean=true \
  "data.train.recordings=$runs/with_clean.jsonl"
# the same weights inside one SNR over weighted frame energies (purify.reduce: energy) instead of a mean of
# per-frame SNRs: equal weights give back PseudoSE's loss exactly
ablation pseudose_dp_energy pseudose_dp personalize.purify.reduce=energy
ablation cm_dp_energy cm_dp personalize.purify.reduce=energy
ablation pseudose_oracle_energy pseudose_dp personalize.purify.reduce=energy personalize.purify.model=oracle \
  data.train.with_clean=true "data.train.recordings=$runs/with_clean.jsonl"
# their control: every weight 0 (offset 1000 dB), so the target is the enhancer's estimate alone, whatever the SNR
ablation pseudose_distill pseudose_dp_target personalize.purify.offset_db=1000
ablation cm_distill cm_dp_target personalize.purify.offset_db=1000
python "$here/grid_table.py" "$runs"
