#!/usr/bin/env bash
# Denoising pretraining for separation (Huang et al. 2021), end to end. From the repository root:
#   recipes/denoise_pretrain/run.sh SET [key=value ...]          SET: tiny | cpu | demo | libri2mix
#                                                               (+ tiny_ssl | cpu_ssl | cpu_tera | cpu_hubert | demo_ssl)
# 1. <SET>_pretrain.yaml  one-output Conv-TasNet trained on denoising; exported
# 2. <SET>_finetune.yaml  2-speaker uPIT from step 1's weights (all but the mask projection)
# 3. <SET>_scratch.yaml   the same 2-speaker run from random weights
# Steps 2 and 3 are scored on the config's test set when it has one (../train_and_evaluate.sh);
# then plot_switching.py draws the switching rate per epoch and validation SI-SDRi per step of
# both runs into <runs>/<SET>-switching.png and writes the table to <runs>/<SET>-comparison.md.
# Overrides go to all three configs (e.g. corpus=..., trainer.precision=16-mixed); rerunning the
# same command resumes whatever stopped.
set -euo pipefail
set_name=${1:?usage: recipes/denoise_pretrain/run.sh tiny|cpu|demo|libri2mix|tiny_ssl|cpu_ssl|cpu_tera|cpu_hubert|demo_ssl [key=value ...]}
shift
here=$(dirname "$0")
config() { echo "$here/${set_name}_$1.yaml"; }

pretrained=$(sepkit train "$(config pretrain)" "$@" | tail -n 1)
"$here/../train_and_evaluate.sh" "$(config finetune)" "$@" "init.from=$pretrained"
"$here/../train_and_evaluate.sh" "$(config scratch)" "$@"

finetune=$(sepkit config "$(config finetune)" "$@" --get output_dir)
scratch=$(sepkit config "$(config scratch)" "$@" --get output_dir)
pretrain=$(sepkit config "$(config pretrain)" "$@" --get output_dir)
out=$(dirname "$scratch")
python "$here/plot_switching.py" --run "fine-tuned=$finetune" --run "from scratch=$scratch" --pretrain "$pretrain" \
  --png "$out/${set_name}-switching.png" --table "$out/${set_name}-comparison.md"
