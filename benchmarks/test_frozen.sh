#!/usr/bin/env bash
# The official test split, run once for each configuration frozen on the dev split (README, "How the
# defaults are chosen"), in the order they were frozen. All score with the latent-bank search (anogan,
# 0 steps, nearest sampled z in D's features; ink residual, cosine feature distance, lambda 0.7,
# standardised, critic weight 1) on GAN bundles trained 20 epochs at batch 64 with an EMA (0.995) of G and
# of D (the dev split's training, so seed 0 reuses the dev bundles; the encoder is not used):
#   1. the document's Adam (1e-4, beta_1 0.9); a bank of 8,192 samples;
#   2. the same bundles; a bank of 16,384 samples pruned to those that are some normal training image's
#      nearest (--prune-bank);
#   3. Adam 2e-4, beta_1 0.5 (--gan-lr 0.0002 --gan-beta1 0.5); the pruned bank of 16,384 samples;
#   4. the bundles of 3 and the same bank, the critic term weighed 0.5 instead of 1;
#   5. the bundles and bank of 3, lambda 0.9, the critic term weighed 0.5: the highest dev mean of the
#      lambda x critic-weight grid on Fashion-MNIST's own dev split, and (by 0.01) on MNIST's.
# feature-knn on the same bundles is reported beside them. Resumable: finished (class, seed) results are
# skipped, so a later frozen configuration on the same bundles only scores them again. The names say how each
# differs from the defaults of before recipes, which are the document recipe's (--recipe document); the
# results are archived under benchmarks/results/archive/ (index.csv maps the names to their settings). The
# fourth is the recommended recipe: benchmarks/test_recommended.sh runs it under its own name.
#
#   benchmarks/test_frozen.sh DATASET DATA SEEDS [CLASSES] [CONFIGURATIONS]
#   benchmarks/test_frozen.sh mnist ../shared/data/mnist.npz 0,1,2
#   benchmarks/test_frozen.sh fashion-mnist ../shared/data/fashion_mnist.npz 0 0-4 3
set -euo pipefail
dataset=$1
data=$2
seeds=$3
classes=${4:-0-9}
configurations=${5:-1,2,3,4}
scoring=(--methods anogan --steps 0 --residual ink --feature-distance cosine --standardize)
bank8192=(--latent-bank 8192)
pruned16384=(--latent-bank 16384 --prune-bank)

# grid PREFIX SEED BANK_NAME "BANK_FLAGS" LAMBDA CRITIC_WEIGHT [TRAINING_FLAGS...]: the frozen scorer and
# feature-knn beside it
grid() {
    local prefix=$1 seed=$2 bank_name=$3 bank_flags=$4 lam=$5 critic=$6
    shift 6
    local common=(--dataset "$dataset" --data "$data" --recipe document --classes "$classes" --seeds "$seed" --epochs 20
                  --encoder-epochs 10 --batch-size 64 --generator-ema 0.995 --discriminator-ema 0.995 "$@"
                  --runs-dir "runs/bench-$prefix" --out "benchmarks/results/archive/$dataset")
    # shellcheck disable=SC2086
    anogan benchmark "${common[@]}" "${scoring[@]}" $bank_flags --lam "$lam" --critic-weight "$critic" \
        --candidate "$prefix-anogan0-$bank_name-ink-cos-std-lam$lam-crit$critic"
    anogan benchmark "${common[@]}" --methods feature-knn --candidate "$prefix-feature-knn"
}

for seed in ${seeds//,/ }; do
    for configuration in ${configurations//,/ }; do
        case $configuration in
            1) grid ema0.995-dema0.995-b64-e20-enc10 "$seed" bank8192 "${bank8192[*]}" 0.7 1 ;;
            2) grid ema0.995-dema0.995-b64-e20-enc10 "$seed" bank16384-pruned "${pruned16384[*]}" 0.7 1 ;;
            3) grid ema0.995-dema0.995-b64-e20-enc10-lr0.0002-beta0.5 "$seed" bank16384-pruned "${pruned16384[*]}" 0.7 1 \
                   --gan-lr 0.0002 --gan-beta1 0.5 ;;
            4) grid ema0.995-dema0.995-b64-e20-enc10-lr0.0002-beta0.5 "$seed" bank16384-pruned "${pruned16384[*]}" 0.7 0.5 \
                   --gan-lr 0.0002 --gan-beta1 0.5 ;;
            5) grid ema0.995-dema0.995-b64-e20-enc10-lr0.0002-beta0.5 "$seed" bank16384-pruned "${pruned16384[*]}" 0.9 0.5 \
                   --gan-lr 0.0002 --gan-beta1 0.5 ;;
            *) echo "unknown frozen configuration $configuration (1 to 5)" >&2; exit 2 ;;
        esac
    done
done
