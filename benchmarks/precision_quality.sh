#!/usr/bin/env bash
# AUROC of the --precision mixed_bfloat16 training option against the float32 default, with the
# main job's settings (mnist-5k, normal digit 0, 200 epochs, batch 32, encoder 30 epochs, seed 0).
# The float32 figures come from `anogan run` (runs/mnist5k-0); this trains the bfloat16 twin.
set -euo pipefail
out=${1:-runs/mnist5k-0-bf16}
anogan train --dataset mnist-5k --normal 0 --epochs 200 --batch-size 32 --precision mixed_bfloat16 --out "$out" --resume
[ -f "$out/encoder.keras" ] || anogan train-encoder --model "$out" --epochs 30
for method in encoder hybrid; do
    anogan score mnist-5k:test --model "$out" --method "$method" --out "$out/results_$method.csv" --resume
    anogan evaluate "$out/results_$method.csv" --out "$out/evaluation_$method"
done
