#!/usr/bin/env bash
# Issue 29 round 2, stage 1 (docs/selection-rules.md): MNIST classes 2,3,4,8, seed 0, dev split; the baseline
# first, then each candidate. Resumable: finished (class, seed) results are skipped.
set -euo pipefail
#   benchmarks/round2_screen.sh   (from the repository root)
out=benchmarks/results/mnist/dev/round2
common=(--dataset mnist --data ../shared/data/mnist.npz --split dev --recipe recommended --methods anogan
        --classes 2,3,4,8 --seeds 0 --out "$out")
anogan benchmark "${common[@]}" --runs-dir runs/recommended --candidate recommended
anogan benchmark "${common[@]}" --runs-dir runs/round2 --discriminator spectral --candidate spectral
anogan benchmark "${common[@]}" --runs-dir runs/round2 --diff-augment translation,cutout --candidate diffaug-tc
anogan benchmark "${common[@]}" --runs-dir runs/round2 --diff-augment translation --candidate diffaug-t
anogan benchmark "${common[@]}" --runs-dir runs/round2 --discriminator wide --candidate wide
