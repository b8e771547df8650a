#!/usr/bin/env bash
# The official test split with the recommended recipe (the fourth configuration frozen on the dev split; see
# docs/research.md), and feature-knn on the same bundles beside it, one seed after another. Resumable: finished
# (class, seed) results are skipped. Results: benchmarks/results/DATASET/test/recommended/classK_seedS.json
# (and recommended-feature-knn/classK_seedS.json), with AUROC, TPR at 1 % and 5 % FPR and recall at the bundle's threshold.
#
#   benchmarks/test_recommended.sh DATASET DATA SEEDS [CLASSES]
#   benchmarks/test_recommended.sh mnist ../shared/data/mnist.npz 0,1,2
set -euo pipefail
dataset=$1
data=$2
seeds=$3
classes=${4:-0-9}
for seed in ${seeds//,/ }; do
    anogan benchmark --dataset "$dataset" --data "$data" --classes "$classes" --seeds "$seed" \
        --methods anogan,feature-knn --runs-dir "runs/recommended" --out "benchmarks/results/$dataset/test"
done
