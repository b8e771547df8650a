"""Does the default threshold keep its promise on normal images it has never seen?

    python benchmarks/threshold_promise.py --runs runs/bench --dataset mnist --data ../shared/data/mnist.npz
    python benchmarks/threshold_promise.py --runs runs/bench-… --match "mnist_*_seed0" --methods "" \
        --candidates recommended --dataset mnist --data … --out …

For every benchmark bundle (one normal class each) and method, the threshold
is calibrated as the product does (split-conformal, target false-positive
rate 1 %, on the bundle's normal validation images); the share of the
official test split's images *of the normal class* above it is the measured
false-positive rate. ``--candidates`` adds scorers named as recipes or RECIPE-METHOD
by name (a standardised score fits its terms' statistics on the same
validation images that set the threshold, which the promise must survive).
Nothing is chosen here: it checks a promise. Writes
``benchmarks/results/threshold_promise.json`` and prints the mean and range
over classes per method.
"""

import argparse
import fnmatch
import sys
from pathlib import Path

import numpy as np

from anogan.data.datasets import load_dataset
from anogan.experiments.benchmark import Candidate, named_candidate
from anogan.gan.bundle import find_bundles, open_bundle
from anogan.scoring.calibration import DEFAULT_FALSE_POSITIVE_RATE, calibrate
from anogan.scoring.methods import get_method
from anogan.scoring.scorer import Scorer
from anogan.storage import write_json_atomic


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="folder of benchmark bundles")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data")
    parser.add_argument("--methods", default="encoder,feature-knn", help="methods with their default settings")
    parser.add_argument("--candidates", default="", help="comma-separated: recipes (recommended, document), "
                        "RECIPE-METHOD, or methods with their defaults")
    parser.add_argument("--match", default="*", help="only the bundles whose folder name matches this pattern")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/threshold_promise.json"))
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset, args.data)
    wanted = [name for name in args.candidates.split(",") if name]
    named = [named_candidate(name) for name in wanted]
    scorers = [Candidate(m, m) for m in args.methods.split(",") if m] + named
    rows = []
    for path in find_bundles(args.runs, max_depth=1):
        if not fnmatch.fnmatch(path.name, args.match):
            continue
        bundle = open_bundle(path)
        if bundle.metadata["dataset"]["name"] != args.dataset or len(bundle.normal_classes) != 1:
            continue
        normals = dataset.x_test[np.isin(dataset.y_test, bundle.normal_classes)]
        for candidate in scorers:
            method = candidate.name
            if get_method(candidate.method).needs_encoder and bundle.encoder is None:
                continue
            scorer = Scorer(bundle, candidate.method, candidate.settings)
            calibration = calibrate(scorer, save=False)
            measured = float(calibration.verdict(scorer.score(normals)).mean())
            rows.append({"bundle": path.name, "normal_class": bundle.normal_classes[0], "method": method,
                         "n_validation": len(calibration.validation_scores),
                         "promised": calibration.expected_false_positive_rate, "n_test_normals": len(normals),
                         "measured": measured})
            print(f"{path.name} {method}: promised {calibration.expected_false_positive_rate:.2%}, "
                  f"measured {measured:.2%} on {len(normals)} test normals", flush=True)
    summary = {}
    for method in sorted({r["method"] for r in rows}):
        measured = [r["measured"] for r in rows if r["method"] == method]
        summary[method] = {"classes": len(measured), "mean": float(np.mean(measured)), "min": float(np.min(measured)),
                           "max": float(np.max(measured))}
        print(f"{method}: mean {summary[method]['mean']:.2%} (range {summary[method]['min']:.2%}-"
              f"{summary[method]['max']:.2%}) over {len(measured)} classes; target {DEFAULT_FALSE_POSITIVE_RATE:.0%}")
    write_json_atomic(args.out, {"target_rate": DEFAULT_FALSE_POSITIVE_RATE, "summary": summary, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
