#!/usr/bin/env bash
# Issue 29 round 6, stage 2 (docs/selection-rules.md): cx0.25-cap beside the recommended recipe on the same
# bundles, dev split: MNIST and Fashion-MNIST 10 classes, seed 0, the domain set on those bundles, then MNIST
# seeds 1 and 2, then the scoring speed. Resumable: finished results (a domain file that exists included) are
# skipped, finished bundles are scored without retraining.
#   benchmarks/round6_stage2.sh PATH/mnist.npz PATH/fashion_mnist.npz     (from the repository root)
set -euo pipefail
mnist_data=$1
fashion_data=$2
variant=(--variant "cx0.25-cap --complexity-weight 0.25")
common=(--split dev --recipe recommended --methods anogan --runs-dir runs/recommended --candidate recommended
        "${variant[@]}")
mnist=(--dataset mnist --data "$mnist_data" --out benchmarks/results/mnist/dev/round6)
fashion=(--dataset fashion-mnist --data "$fashion_data" --out benchmarks/results/fashion-mnist/dev/round6)
seed0_bundles() { for class in 0 1 2 3 4 5 6 7 8 9; do echo "runs/recommended/$1_class${class}_seed0_recommended"; done; }
anogan benchmark "${mnist[@]}" "${common[@]}" --classes 0-9 --seeds 0
domain=benchmarks/results/mnist/dev/round6/domain_shift_stage2.json
[ -f "$domain" ] || python benchmarks/domain_shift.py --candidates recommended "${variant[@]}" \
    --fashion "$fashion_data" --runs $(seed0_bundles mnist) --out "$domain"
anogan benchmark "${fashion[@]}" "${common[@]}" --classes 0-9 --seeds 0
domain=benchmarks/results/fashion-mnist/dev/round6/domain_shift_stage2.json
[ -f "$domain" ] || python benchmarks/domain_shift.py --candidates recommended "${variant[@]}" \
    --runs $(seed0_bundles fashion-mnist) --out "$domain"
anogan benchmark "${mnist[@]}" "${common[@]}" --classes 0-9 --seeds 1,2
python benchmarks/scorer_speed.py --model runs/recommended/mnist_class3_seed0_recommended --data "$mnist_data" \
    "${variant[@]}" --out benchmarks/results/scorer_speed_complexity.json
