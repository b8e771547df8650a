"""Per-class failure analysis of frozen bundles on the official test split: which anomalies pass.

    python benchmarks/failure_analysis.py --dataset mnist --data ../shared/data/mnist.npz \
        runs/recommended/mnist_class8_seed0_recommended runs/recommended/mnist_class2_seed0_recommended

Each bundle scores every test image with its own recipe and calibrated threshold. For each other
class the share flagged at the threshold is recorded (the anomalies that pass are the rest), with the
share of normal test images flagged (the promise was about 1 %). A grid PNG shows the highest-scoring
normals (the false alarms) and the lowest-scoring anomalies (the misses), each as input, G(z) and
residual. This reports on recipes frozen before; nothing here is chosen from it.
Writes ``docs/failures/DATASET_classK.png`` and ``benchmarks/results/DATASET/test/failures.json`` (and
``.md``), one entry per bundle, merged with earlier runs of the script.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from anogan.data.datasets import from_model_range, load_dataset
from anogan.experiments.pipeline import prepare_scorer
from anogan.gan.bundle import open_bundle
from anogan.scoring.recipes import bundle_recipe, scoring_choice
from anogan.storage import write_json_atomic, write_text_atomic

SHOWN = 8  # images per row of the grid


def analyse(bundle_path: str, dataset) -> tuple[dict, dict]:
    """The pass table of one bundle and the images its grid shows."""
    bundle = open_bundle(bundle_path)
    choice = scoring_choice(bundle, None, None)
    scorer, calibration = prepare_scorer(bundle, choice.method, choice.settings, progress=False)
    normal = set(bundle.normal_classes)
    parts = [scorer.score(dataset.x_test[start:start + 1024]) for start in range(0, len(dataset.x_test), 1024)]
    scores = np.concatenate([p.score for p in parts])
    flagged = scores > calibration.threshold
    is_normal = np.isin(dataset.y_test, list(normal))
    per_class = {}
    for label, name in enumerate(dataset.class_names):
        if label in normal:
            continue
        members = dataset.y_test == label
        per_class[name] = round(float(flagged[members].mean()) * 100, 1)
    entry = {
        "bundle": Path(bundle_path).name, "method": scorer.method,
        "recipe": getattr(bundle_recipe(bundle), "name", None),
        "normal_classes": [dataset.class_names[c] for c in sorted(normal)], "normal_labels": sorted(normal),
        "threshold": float(calibration.threshold),
        "promised_false_positive_rate": calibration.expected_false_positive_rate,
        "normals_flagged_percent": round(float(flagged[is_normal].mean()) * 100, 2),
        "anomalies_flagged_percent": round(float(flagged[~is_normal].mean()) * 100, 1),
        "flagged_percent_by_anomalous_class": per_class,
        "worst_passing_classes": sorted(per_class, key=per_class.get)[:3],
    }
    false_alarms = np.where(is_normal)[0][np.argsort(-scores[is_normal])[:SHOWN]]
    misses = np.where(~is_normal)[0][np.argsort(scores[~is_normal])[:SHOWN]]
    shown = {}
    for title, indices in (("highest-scoring normals", false_alarms), ("lowest-scoring anomalies", misses)):
        batch = scorer.score(dataset.x_test[indices])
        shown[title] = {"input": dataset.x_test[indices], "reconstruction": from_model_range(batch.reconstruction),
                        "residual": batch.anomaly_map, "score": batch.score,
                        "label": [dataset.class_names[c] for c in dataset.y_test[indices]]}
    return entry, shown


def draw(entry: dict, shown: dict, threshold: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(title, kind) for title in shown for kind in ("input", "reconstruction", "residual")]
    figure, axes = plt.subplots(len(rows), SHOWN, figsize=(SHOWN * 1.1, len(rows) * 1.25))
    for row, (title, kind) in enumerate(rows):
        images = shown[title][kind]
        for column in range(SHOWN):
            axis = axes[row, column]
            axis.set_xticks([]), axis.set_yticks([])
            if column >= len(images):
                axis.axis("off")
                continue
            residual = kind == "residual"
            axis.imshow(np.squeeze(images[column]), cmap="magma" if residual else "gray",
                        vmin=0, vmax=2.0 if residual else 255)
            if kind == "input":
                axis.set_title(f"{shown[title]['label'][column]}: {shown[title]['score'][column]:.3g}", fontsize=7)
        axes[row, 0].set_ylabel(f"{title.split()[-1]}\n{'G(z)' if kind == 'reconstruction' else kind}", fontsize=7)
    figure.suptitle(f"{entry['bundle']}: threshold {threshold:.3g}; top: false alarms, bottom: misses "
                    "(label: score)", fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def write_report(out: Path, report: dict) -> None:
    write_json_atomic(out, report)
    rows = ["| bundle | normals flagged | anomalies flagged | least-flagged anomalous classes (% flagged) |",
            "|---|---:|---:|---|"]
    for entry in report["bundles"].values():
        worst = ", ".join(f"{name} {entry['flagged_percent_by_anomalous_class'][name]}"
                          for name in entry["worst_passing_classes"])
        rows.append(f"| {entry['bundle']} | {entry['normals_flagged_percent']} % | "
                    f"{entry['anomalies_flagged_percent']} % | {worst} |")
    write_text_atomic(out.with_suffix(".md"), "\n".join(rows) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundles", nargs="+")
    parser.add_argument("--dataset", required=True, choices=("mnist", "fashion-mnist"))
    parser.add_argument("--data", required=True)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset, args.data)
    out = Path(f"benchmarks/results/{args.dataset}/test/failures.json")
    report = json.loads(out.read_text()) if out.exists() else {"dataset": args.dataset, "bundles": {}}
    for bundle_path in args.bundles:
        entry, shown = analyse(bundle_path, dataset)
        picture = Path("docs/failures") / f"{args.dataset}_class{'-'.join(map(str, entry['normal_labels']))}.png"
        draw(entry, shown, entry["threshold"], picture)
        entry["picture"] = str(picture)
        entry["command"] = " ".join(["python", "benchmarks/failure_analysis.py", "--dataset", args.dataset,
                                     "--data", args.data, bundle_path])
        report["bundles"][entry["bundle"]] = entry
        print(json.dumps(entry), flush=True)
        write_report(out, report)  # after each bundle, so a later failure loses nothing


if __name__ == "__main__":
    sys.exit(main())
