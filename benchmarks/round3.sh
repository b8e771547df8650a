#!/usr/bin/env bash
# Issue 29 round 3 (docs/selection-rules.md), part A: residual candidates scored on the recommended recipe's
# bundles, dev split, 10 classes x SEEDS: MNIST seeds 0,1,2 decide, Fashion-MNIST seed 0 is the guard.
# One call per seed scores the baseline and every variant from one inversion per bundle; it trains the
# bundles that are missing. Resumable: finished results are skipped.
#   benchmarks/round3.sh mnist PATH/mnist.npz 0,1,2                 (from the repository root)
#   benchmarks/round3.sh fashion-mnist PATH/fashion_mnist.npz 0
set -euo pipefail
dataset=$1
data=$2
seeds=$3
for seed in ${seeds//,/ }; do
    anogan benchmark --dataset "$dataset" --data "$data" --split dev --recipe recommended --methods anogan \
        --classes 0-9 --seeds "$seed" --runs-dir runs/recommended --out "benchmarks/results/$dataset/dev/round3" \
        --candidate recommended \
        --variant "multiscale --residual multiscale" --variant "aligned --residual aligned" \
        --variant "multiscale-lam0.5 --residual multiscale --lam 0.5" \
        --variant "aligned-lam0.5 --residual aligned --lam 0.5"
done
