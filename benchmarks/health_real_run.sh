#!/usr/bin/env bash
# Training health on a real run: MNIST digit 3, seed 0, the recommended recipe, metrics every epoch.
# Writes benchmarks/results/mnist/health/: the run's history.csv (losses and metrics per epoch), health.json
# (floor, events) and overhead.json (seconds the metrics cost against the epochs' training seconds).
#
#   benchmarks/health_real_run.sh [DATA]      (DATA: MNIST as a Keras .npz, default ../shared/data/mnist.npz)
set -euo pipefail
data=${1:-../shared/data/mnist.npz}
run=runs/health_mnist3
out=benchmarks/results/mnist/health
anogan train --dataset mnist --data "$data" --normal 3 --seed 0 --recipe recommended --out "$run" --resume
mkdir -p "$out"
cp "$run/history.csv" "$out/class3_seed0_history.csv"
cp "$run/health.json" "$out/class3_seed0_health.json"
python - "$out" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/class3_seed0_history.csv")))
train = sum(float(r["seconds"]) for r in rows)
health = sum(float(r["health_seconds"]) for r in rows if r["health_seconds"])
first, last = rows[0], rows[-1]
summary = {"epochs": len(rows), "train_seconds": round(train, 1), "health_seconds": round(health, 1),
           "health_share_of_training": round(health / train, 4),
           "first_epoch": {k: float(first[k]) for k in ("fd", "kid", "precision", "recall", "coverage")},
           "last_epoch": {k: float(last[k]) for k in ("fd", "kid", "precision", "recall", "coverage")}}
json.dump(summary, open(f"{sys.argv[1]}/class3_seed0_overhead.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
