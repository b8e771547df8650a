#!/usr/bin/env bash
# Wall time of the main job (anogan run: train, calibrate, score the 1,000 mnist-5k test images with the
# recommended scorer and feature-knn, evaluate) at each candidate schedule of docs/main-job-schedule.md, one
# after another, each from scratch, with nothing else running. Only the time is kept: the job's output goes
# to a scratch folder, unread, since the schedule is chosen on the dev split.
#
#   benchmarks/main_job_times.sh [STEPS ...]     (default: 1500 1000 750 500)
set -euo pipefail
out=benchmarks/results/mnist-5k/main_job_times.csv
mkdir -p "$(dirname "$out")"
[ -f "$out" ] || echo "date,cpu,min_steps,epochs,wall_seconds" > "$out"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
scratch=$(mktemp -d)
for steps in "${@:-1500 1000 750 500}"; do
    for s in $steps; do
        started=$(date +%s.%N)
        anogan run --min-steps "$s" --out "$scratch/run-$s" > "$scratch/run-$s.log" 2>&1
        ended=$(date +%s.%N)
        epochs=$(python3 -c "import json; print(json.load(open('$scratch/run-$s/bundle.json'))['training']['epochs'])")
        echo "$(date -u +%FT%TZ),$cpu,$s,$epochs,$(python3 -c "print(round($ended - $started, 1))")" | tee -a "$out"
    done
done
rm -rf "$scratch"
