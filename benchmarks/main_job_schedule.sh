#!/usr/bin/env bash
# The main job's schedule on the embedded mnist-5k (300 training images of a digit), chosen on its dev split
# (held-out normal training images against 1,000 training images of the other digits; the test images are
# never scored). Candidates: 100, 150, 200 and 300 epochs at the recommended recipe's batch of 64 (500 to 1,500
# optimiser steps; 300 epochs is the recipe's own 1,500-step floor). Each longer candidate continues the
# shorter one's checkpoint, which is exact (the same weights as an uninterrupted run), so the four cost one
# 300-epoch run per digit. The selection rule is in docs/research.md ("The main job's schedule"), written
# before these runs.
#
#   benchmarks/main_job_schedule.sh [CLASSES]
set -euo pipefail
classes=${1:-0-9}
for epochs in 100 150 200 300; do
    anogan benchmark --dataset mnist-5k --split dev --classes "$classes" --seeds 0 --val-fraction 0.25 \
        --min-steps 0 --epochs "$epochs" --candidate "main-e$epochs" --methods anogan \
        --runs-dir runs/main-job-schedule --out benchmarks/results/mnist-5k/dev
done
