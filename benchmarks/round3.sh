#!/usr/bin/env bash
# Issue 29 round 3 (docs/selection-rules.md), part A: residual candidates scored on the recommended recipe's
# bundles, dev split, 10 classes x SEEDS: MNIST seeds 0,1,2 decide, Fashion-MNIST seed 0 is the guard.
# The baseline trains the bundles it lacks; the candidates reuse them. Resumable: finished results are skipped.
#   benchmarks/round3.sh mnist PATH/mnist.npz 0,1,2                 (from the repository root)
#   benchmarks/round3.sh fashion-mnist PATH/fashion_mnist.npz 0
set -euo pipefail
dataset=$1
data=$2
seeds=$3
candidates=("recommended" "multiscale --residual multiscale" "aligned --residual aligned"
            "multiscale-lam0.5 --residual multiscale --lam 0.5" "aligned-lam0.5 --residual aligned --lam 0.5")
for candidate in "${candidates[@]}"; do
    read -r name flags <<< "$candidate"
    # shellcheck disable=SC2086  # the flags are words
    anogan benchmark --dataset "$dataset" --data "$data" --split dev --recipe recommended --methods anogan \
        --classes 0-9 --seeds "$seeds" --runs-dir runs/recommended --out "benchmarks/results/$dataset/dev/round3" \
        --candidate "$name" $flags
done
