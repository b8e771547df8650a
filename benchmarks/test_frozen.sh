#!/usr/bin/env bash
# The official test split, run once for each configuration frozen on the dev split (README, "How the
# defaults are chosen"), in the order they were frozen. All use the GAN bundles trained 20 epochs at batch
# 64 with an EMA (0.995) of G and of D (the dev split's bundles: the same training, so seed 0 reuses them;
# the encoder is not used), scored by the latent-bank search (anogan, 0 steps, nearest sampled z in D's
# features; ink residual, cosine feature distance, lambda 0.7, standardised, critic weight 1):
#   1. a bank of 8,192 samples;
#   2. a bank of 16,384 samples pruned to those that are some normal training image's nearest (--prune-bank).
# feature-knn on the same bundles is reported beside them. Resumable: finished (class, seed) results are
# skipped, so a later frozen configuration only scores the bundles again.
#
#   benchmarks/test_frozen.sh DATASET DATA SEEDS [CLASSES]
#   benchmarks/test_frozen.sh mnist ../shared/data/mnist.npz 0,1,2
#   benchmarks/test_frozen.sh fashion-mnist ../shared/data/fashion_mnist.npz 0 0-4
set -euo pipefail
dataset=$1
data=$2
seeds=$3
classes=${4:-0-9}
prefix=ema0.995-dema0.995-b64-e20-enc10
common=(--dataset "$dataset" --data "$data" --classes "$classes" --epochs 20 --encoder-epochs 10 --batch-size 64
        --generator-ema 0.995 --discriminator-ema 0.995 --runs-dir "runs/bench-$prefix"
        --out "benchmarks/results/$dataset")
bank=(--methods anogan --steps 0 --lam 0.7 --residual ink --feature-distance cosine
      --standardize --critic-weight 1)
for seed in ${seeds//,/ }; do
    anogan benchmark "${common[@]}" --seeds "$seed" "${bank[@]}" --latent-bank 8192 \
        --candidate "$prefix-anogan0-bank8192-ink-cos-std-lam0.7-crit1"
    anogan benchmark "${common[@]}" --seeds "$seed" --methods feature-knn --candidate "$prefix-feature-knn"
    anogan benchmark "${common[@]}" --seeds "$seed" "${bank[@]}" --latent-bank 16384 --prune-bank \
        --candidate "$prefix-anogan0-bank16384-pruned-ink-cos-std-lam0.7-crit1"
done
