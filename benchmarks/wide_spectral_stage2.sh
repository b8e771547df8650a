#!/usr/bin/env bash
# Issue 29 round 3 part B, stage 2 (docs/selection-rules.md): `wide-spectral` passed its screen, so it is
# trained on the rest of the dev grid and compared with the recommended recipe under round 2's stage-2 rule.
# Order: MNIST seed 0, then the Fashion-MNIST guard (seed 0, with the recommended baseline's missing
# bundles), then MNIST seeds 1 and 2. Resumable: finished (class, seed) results are skipped.
#   benchmarks/wide_spectral_stage2.sh PATH/mnist.npz PATH/fashion_mnist.npz    (from the repository root)
set -euo pipefail
mnist=$1
fashion=$2
here=$(dirname "$0")
candidate() {  # dataset data seeds
    anogan benchmark --dataset "$1" --data "$2" --split dev --recipe recommended --methods anogan \
        --classes 0-9 --seeds "$3" --discriminator wide-spectral --candidate wide-spectral \
        --runs-dir runs/round2 --out "benchmarks/results/$1/dev/round2"
}
candidate mnist "$mnist" 0
candidate fashion-mnist "$fashion" 0
"$here/round3.sh" fashion-mnist "$fashion" 0
candidate mnist "$mnist" 1
candidate mnist "$mnist" 2
