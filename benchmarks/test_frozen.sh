#!/usr/bin/env bash
# The official test split, run once for the configuration frozen on the dev split (README, "How the
# defaults are chosen"): GAN bundles trained 20 epochs at batch 64 with an EMA (0.995) of G and of D
# (the dev split's bundles: the same training, so seed 0 reuses them; the encoder is not used),
# scored by the latent-bank search (anogan, 0 steps, nearest of 8,192 sampled z in D's features;
# ink residual, cosine feature distance, lambda 0.7, standardised, critic weight 1), and by feature-knn
# on the same bundles beside it. Resumable: finished (class, seed) results are skipped.
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
for seed in ${seeds//,/ }; do
    anogan benchmark "${common[@]}" --seeds "$seed" --methods anogan \
        --candidate "$prefix-anogan0-bank8192-ink-cos-std-lam0.7-crit1" \
        --steps 0 --latent-bank 8192 --lam 0.7 --residual ink --feature-distance cosine --standardize \
        --critic-weight 1
    anogan benchmark "${common[@]}" --seeds "$seed" --methods feature-knn --candidate "$prefix-feature-knn"
done
