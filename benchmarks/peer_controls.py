"""Peers a user would pick instead of a GAN, in the same one-class harness: PyOD's LOF and KNN on raw pixels.

    pip install -e ".[benchmark]"
    python benchmarks/peer_controls.py --dataset mnist --data PATH/mnist.npz

Same protocol as ``anogan benchmark``: for each normal class, fit on that
class's training images (the same seed-0 split, so the held-out validation
images are left out as they are for a bundle), score the official test split,
and record AUROC, TPR at 1 % and 5 % FPR and the seconds taken (fit + score).
Pixels are scaled to [0, 1] and flattened; the detectors keep PyOD's defaults.
Deterministic. Writes ``benchmarks/results/DATASET/test/controls.json`` and ``.md``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from anogan.data.datasets import load_dataset
from anogan.data.protocol import one_class_split
from anogan.experiments.evaluation import ranking_metrics
from anogan.storage import write_json_atomic, write_text_atomic

METRICS = ("auroc", "tpr_at_1pct_fpr", "tpr_at_5pct_fpr")


def detectors() -> dict:
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF

    return {"pyod-lof-pixels": LOF, "pyod-knn-pixels": KNN}


def main(argv=None) -> int:
    import pyod

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data")
    parser.add_argument("--out", type=Path, help="default benchmarks/results/DATASET/test/controls.json")
    args = parser.parse_args(argv)
    dataset = load_dataset(args.dataset, args.data)
    report = {"dataset": args.dataset, "split_seed": 0, "pyod": pyod.__version__,
              "command": " ".join(["python", "benchmarks/peer_controls.py", *(argv or sys.argv[1:])]),
              "controls": {}}
    for name, detector_class in detectors().items():
        per_class = {}
        for normal_class in range(len(dataset.class_names)):
            split = one_class_split(dataset, [normal_class], seed=0)
            started = time.perf_counter()
            detector = detector_class().fit(split.x_train.reshape(len(split.x_train), -1) / 255.0)
            scores = detector.decision_function(split.x_test.reshape(len(split.x_test), -1) / 255.0)
            metrics = ranking_metrics(split.is_anomaly_test.astype(int), scores)
            per_class[str(normal_class)] = {**{k: metrics[k] for k in METRICS},
                                            "seconds": round(time.perf_counter() - started, 2)}
            print(f"{name} class {normal_class}: AUROC {100 * metrics['auroc']:.1f}, TPR at 1 % FPR "
                  f"{100 * metrics['tpr_at_1pct_fpr']:.1f}", flush=True)
        report["controls"][name] = {"per_class": per_class, **{
            f"mean_{k}": float(np.mean([c[k] for c in per_class.values()])) for k in (*METRICS, "seconds")}}
    out = args.out or Path("benchmarks/results") / args.dataset / "test" / "controls.json"
    write_json_atomic(out, report)
    lines = [f"Peers on raw pixels, {args.dataset} official test split, one-class (seed-0 split), PyOD "
             f"{pyod.__version__} defaults (written by benchmarks/peer_controls.py).", "",
             "| control | mean AUROC | mean TPR at 1 % FPR | mean TPR at 5 % FPR | seconds per class |",
             "|---|---:|---:|---:|---:|"]
    for name, control in report["controls"].items():
        lines.append(f"| {name} | {100 * control['mean_auroc']:.1f} | {100 * control['mean_tpr_at_1pct_fpr']:.1f} | "
                     f"{100 * control['mean_tpr_at_5pct_fpr']:.1f} | {control['mean_seconds']:.1f} |")
    write_text_atomic(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
