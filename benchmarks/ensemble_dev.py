"""Several seeds' bundles scored as one, on the dev split: is the recipe's score, averaged over them, better?

    anogan benchmark --dataset mnist --data PATH/mnist.npz --split dev --split-seed 0 --seeds 0,1,2 \\
        --classes 2,3,4,8 --methods anogan --runs-dir runs/recommended --out benchmarks/results/mnist/dev/round4
    python benchmarks/ensemble_dev.py --dataset mnist --data PATH/mnist.npz --split-seed 0 --seeds 0,1,2 \\
        --classes 2,3,4,8 --runs-dir runs/recommended --out benchmarks/results/mnist/dev/round4/ensemble.json

The bundles must hold out the same normal validation images (``--split-seed``), so that every member is
fitted and measured on one dev split, none of whose images any member trained on; the benchmark above
trains them and records each member's own dev result. Each member scores the dev split with the recipe's
method and settings (its terms standardised on the split's fitting half, so the members' scores are on
one scale); the ensemble's score is their mean. Writes, per class, the members' AUROC and TPR at 1 % FPR
and the ensemble's, as JSON and as a table (``.md``).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from anogan.data.datasets import load_dataset
from anogan.data.protocol import DEV_ANOMALIES, dev_split
from anogan.experiments.benchmark import BenchmarkConfig, candidates_for, dev_labels, dev_scores, parse_classes
from anogan.experiments.evaluation import ranking_metrics
from anogan.gan.bundle import open_bundle
from anogan.storage import write_json_atomic, write_text_atomic

REPORTED = ("auroc", "tpr_at_1pct_fpr")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--data")
    parser.add_argument("--recipe", default="recommended")
    parser.add_argument("--classes", default="0-9")
    parser.add_argument("--seeds", default="0,1,2", help="the members' seeds")
    parser.add_argument("--split-seed", type=int, required=True, help="the validation split they share")
    parser.add_argument("--dev-anomalies", type=int, default=DEV_ANOMALIES)
    parser.add_argument("--runs-dir", required=True)
    parser.add_argument("--out", type=Path, required=True, help="a .json file (and the same name ending in .md)")
    args = parser.parse_args(argv)
    config = BenchmarkConfig(dataset=args.dataset, data=args.data, recipe=args.recipe, split="dev",
                             dev_anomalies=args.dev_anomalies, split_seed=args.split_seed)
    [candidate] = candidates_for(config)
    seeds = [int(s) for s in args.seeds.split(",")]
    dataset = load_dataset(args.dataset, args.data)
    report = {"command": " ".join(["python", "benchmarks/ensemble_dev.py", *sys.argv[1:]]), "recipe": args.recipe,
              "seeds": seeds, "split_seed": args.split_seed, "classes": {}}
    for normal_class in parse_classes(args.classes):
        members = [open_bundle(member_folder(Path(args.runs_dir), config, normal_class, seed)) for seed in seeds]
        dev = dev_split(dataset, [normal_class], float(members[0].metadata["dataset"]["val_fraction"]),
                        args.split_seed, args.dev_anomalies)
        labels = dev_labels(dev)
        scores = [dev_scores(bundle, dev, [candidate])[candidate.name][0] for bundle in members]
        measured = [ranking_metrics(labels, member) for member in scores]
        ensemble = ranking_metrics(labels, np.mean(scores, axis=0))
        report["classes"][str(normal_class)] = {
            "members": [{key: m[key] for key in REPORTED} for m in measured],
            "members_mean": {key: float(np.mean([m[key] for m in measured])) for key in REPORTED},
            "ensemble": {key: ensemble[key] for key in REPORTED},
        }
        print(f"class {normal_class}: members " + ", ".join(f"{100 * m['auroc']:.2f}" for m in measured)
              + f"; ensemble {100 * ensemble['auroc']:.2f}", flush=True)
    write_json_atomic(args.out, report)
    write_text_atomic(args.out.with_suffix(".md"), table(report))
    print(table(report))
    return 0


def member_folder(runs_dir: Path, config: BenchmarkConfig, normal_class: int, seed: int) -> Path:
    """The one bundle of (class, seed) with the shared split under ``runs_dir``, whatever its training settings."""
    prefix = config.run_name(normal_class, seed)[: -len(config.training_name())]
    found = sorted(p for p in runs_dir.glob(prefix + "*") if (p / "bundle.json").is_file())
    if len(found) != 1:
        raise SystemExit(f"expected one bundle {prefix}* under {runs_dir}, found {len(found)}: train the members "
                         "with anogan benchmark --split-seed first, or give a runs folder holding one recipe's")
    return found[0]


def table(report: dict) -> str:
    lines = [f"Dev split, recipe {report['recipe']}: the members (seeds {', '.join(map(str, report['seeds']))}, "
             f"validation split of seed {report['split_seed']}) and their mean score (written by "
             "benchmarks/ensemble_dev.py).", "",
             "| normal class | members' AUROC | members' mean | ensemble | members' TPR at 1 % FPR | ensemble |",
             "|---|---|---:|---:|---:|---:|"]
    rows = report["classes"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + ", ".join(f"{100 * m['auroc']:.2f}" for m in row["members"])
                     + f" | {100 * row['members_mean']['auroc']:.2f} | {100 * row['ensemble']['auroc']:.2f} | "
                     f"{100 * row['members_mean']['tpr_at_1pct_fpr']:.1f} | "
                     f"{100 * row['ensemble']['tpr_at_1pct_fpr']:.1f} |")
    means = {part: {key: np.mean([row[part][key] for row in rows.values()]) for key in REPORTED}
             for part in ("members_mean", "ensemble")}
    lines.append(f"| **mean** | | {100 * means['members_mean']['auroc']:.2f} | {100 * means['ensemble']['auroc']:.2f} | "
                 f"{100 * means['members_mean']['tpr_at_1pct_fpr']:.1f} | {100 * means['ensemble']['tpr_at_1pct_fpr']:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
