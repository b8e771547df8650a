"""Does generation quality predict detection quality? Spearman correlations over benchmark bundles (dev split).

For every dev result of the named candidates, the bundle it scored is measured with ``anogan gan-report``'s
metrics (Fréchet distance, KID, precision, recall, density, coverage, near-duplicates, and the Fréchet distance
over its floor) and paired with the dev AUROC and TPR at 1 % FPR. Two views, because classes differ in how
hard they are both to generate and to detect:

- pooled: all bundles (classes x seeds) together;
- within class: the Spearman correlation across the seeds of one class, averaged over classes (with 3 seeds a
  single class gives -1, -0.5, 0.5 or 1: read the mean only as a direction).

Writes OUT/health_correlation_bundles.csv (one row per bundle), OUT/health_correlation.csv and .md (the
table) and the scatter plots (--figure, default OUT/health_correlation.png).

    python benchmarks/health_correlation.py --dev benchmarks/results/mnist/dev --runs-dir runs/recommended \
        --candidates recommended,recommended-feature-knn --out benchmarks/results/mnist/dev \
        --figure docs/gan_health_correlation.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

METRICS = ("fd", "fd_over_floor", "kid", "precision", "recall", "density", "coverage", "duplicates")
TARGETS = ("auroc", "tpr_at_1pct_fpr")


def bundle_metrics(runs_dir: Path, dataset: str, normal_class: int, seed: int, recipe: str) -> dict:
    from anogan.experiments.gan_report import gan_report
    from anogan.gan.bundle import load_bundle

    bundle = load_bundle(runs_dir / f"{dataset}_class{normal_class}_seed{seed}_{recipe}")
    measured, floor = gan_report(bundle).rows[:2]
    return {**{k: measured[k] for k in METRICS if k in measured}, "fd_over_floor": measured["fd"] / floor["fd"]}


def collect(dev: Path, runs_dir: Path, candidates: list[str]) -> pd.DataFrame:
    rows, cache = [], {}
    for candidate in candidates:
        for path in sorted((dev / candidate).glob("class*_seed*.json")):
            result = json.loads(path.read_text())
            key = (result["dataset"], result["normal_class"], result["seed"], result["recipe"])
            if key not in cache:
                cache[key] = bundle_metrics(runs_dir, *key)
            rows.append({"candidate": candidate, "normal_class": key[1], "seed": key[2], **cache[key],
                         **{t: result[t] for t in TARGETS}})
    return pd.DataFrame(rows)


def correlations(frame: pd.DataFrame) -> pd.DataFrame:
    from scipy.stats import spearmanr

    table = []
    for candidate, part in frame.groupby("candidate"):
        for target in TARGETS:
            for metric in METRICS:
                pooled = spearmanr(part[metric], part[target])
                within = [spearmanr(g[metric], g[target]).statistic for _, g in part.groupby("normal_class")
                          if g[metric].nunique() > 1 and g[target].nunique() > 1]
                table.append({"candidate": candidate, "target": target, "metric": metric, "n": len(part),
                              "pooled_spearman": round(float(pooled.statistic), 3),
                              "pooled_p": round(float(pooled.pvalue), 4),
                              "within_class_mean": round(float(np.mean(within)), 3) if within else None,
                              "classes": len(within)})
    return pd.DataFrame(table)


def markdown(table: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join("–" if v is None or v != v else str(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines)


def plot(frame: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = [("fd_over_floor", "auroc"), ("recall", "auroc"), ("fd_over_floor", "tpr_at_1pct_fpr"),
             ("recall", "tpr_at_1pct_fpr")]
    figure, axes = plt.subplots(1, len(pairs), figsize=(4 * len(pairs), 3.6))
    for axis, (metric, target) in zip(axes, pairs):
        for candidate, part in frame.groupby("candidate"):
            axis.scatter(part[metric], part[target], s=14, label=candidate)
            for _, row in part.iterrows():
                axis.annotate(str(row["normal_class"]), (row[metric], row[target]), fontsize=6)
        axis.set(xlabel=metric, ylabel=f"dev {target}")
    axes[0].legend(fontsize=7)
    figure.suptitle("Generation metrics of each bundle against its dev detection quality (labels: normal class)",
                    fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", required=True, type=Path, help="the dev results folder (DATASET/dev)")
    parser.add_argument("--runs-dir", required=True, type=Path, help="where the benchmark's bundles are")
    parser.add_argument("--candidates", default="recommended,recommended-feature-knn")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--figure", type=Path, help="where the scatter plots go (default OUT/health_correlation.png)")
    args = parser.parse_args()
    frame = collect(args.dev, args.runs_dir, [c for c in args.candidates.split(",") if c])
    args.out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(args.out / "health_correlation_bundles.csv", index=False)
    table = correlations(frame)
    table.to_csv(args.out / "health_correlation.csv", index=False)
    (args.out / "health_correlation.md").write_text(
        f"Spearman correlation, generation metric vs dev detection quality, {len(frame)} results "
        f"({frame['normal_class'].nunique()} classes x {frame['seed'].nunique()} seeds per candidate). "
        f"Command: python benchmarks/health_correlation.py (see its docstring).\n\n"
        + markdown(table) + "\n")
    plot(frame, args.figure or args.out / "health_correlation.png")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
