"""Benchmark reports: the result files of a benchmark folder as ``summary.csv``, ``summary.md`` and ``summary.png``.

Mean ± std over seeds per (candidate, class), the candidates' operating
points (TPR at 1 % FPR, the worst class, recall at the threshold) and a
figure.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import numpy as np

from anogan.errors import AnoganError
from anogan.storage import write_text_atomic

progress_log = logging.getLogger("anogan.progress")


RESULT_FIELDS = ("dataset", "split", "normal_class", "seed", "candidate", "recipe", "method", "auroc",
                 "tpr_at_1pct_fpr", "tpr_at_5pct_fpr", "recall_at_threshold", "auprc", "f1_max", "train_seconds",
                 "encoder_seconds", "score_images_per_second", "epochs", "command")


def load_results(out) -> list[dict]:
    records = []
    for path in sorted(Path(out).glob("*/class*_seed*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise AnoganError(f"{path}: damaged result file ({exc})") from None
    return records


def candidate_index(records: list[dict]):
    """One row per candidate: the recipe, method and settings behind its name, and how many results it has."""
    import pandas as pd

    rows = {}
    for record in records:
        name = record.get("candidate", record["method"])
        row = rows.setdefault(name, {
            "candidate": name, "recipe": record.get("recipe", ""), "method": record["method"],
            "training_replaced": json.dumps(record.get("training_replaced", {}), sort_keys=True),
            "settings": json.dumps(record.get("settings", {}), sort_keys=True), "results": 0})
        row["results"] += 1
    return pd.DataFrame(sorted(rows.values(), key=lambda row: row["candidate"]))


def summarize(out, records: Optional[list[dict]] = None) -> Optional[Path]:
    """Write ``summary.csv``, ``summary.md`` and ``summary.png`` from the result files in ``out``."""
    import pandas as pd

    out = Path(out)
    records = load_results(out) if records is None else records
    if not records:
        return None
    frame = pd.DataFrame(records)
    # Results written before dev splits and named candidates existed are test results named by method.
    frame["split"] = frame["split"].fillna("test") if "split" in frame else "test"
    frame["candidate"] = frame["candidate"].fillna(frame["method"]) if "candidate" in frame else frame["method"]
    # results written before recipes and operating points lack those fields
    frame = frame.reindex(columns=[f for f in RESULT_FIELDS if f != "command"]).sort_values(
        ["candidate", "normal_class", "seed"])
    write_text_atomic(out / "summary.csv", frame.to_csv(index=False))
    write_text_atomic(out / "index.csv", candidate_index(records).to_csv(index=False))
    grouped = frame.groupby(["candidate", "normal_class"])["auroc"].agg(["mean", "std", "count"]).reset_index()
    candidates = sorted(grouped["candidate"].unique())
    classes = sorted(grouped["normal_class"].unique())
    splits = sorted(frame["split"].unique())
    where = ("the dev split (held-out normal training images against other classes' training images)"
             if splits == ["dev"] else "the official test set" if splits == ["test"] else f"splits {splits}")
    header = "| normal class | " + " | ".join(candidates) + " |"
    lines = [f"AUROC (%) on {where} of {frame['dataset'].iloc[0]}, per normal class: mean ± std over "
             "n seeds; the last row averages the classes per seed, then over seeds.", "",
             header, "|" + "---|" * (len(candidates) + 1)]

    def cell(values) -> str:
        if values.empty:
            return "–"
        row = values.iloc[0]
        if int(row["count"]) == 1:
            return f"{100 * row['mean']:.1f} (n=1)"
        return f"{100 * row['mean']:.1f} ± {100 * row['std']:.1f} (n={int(row['count'])})"

    for normal_class in classes:
        cells = [cell(grouped[(grouped.candidate == c) & (grouped.normal_class == normal_class)]) for c in candidates]
        lines.append(f"| {normal_class} | " + " | ".join(cells) + " |")
    means = []
    for candidate in candidates:
        results = frame[frame.candidate == candidate]
        n_classes = results["normal_class"].nunique()
        # a seed still running covers fewer classes, and its mean would not be comparable with the others'
        classes_per_seed = results.groupby("seed")["normal_class"].nunique()
        whole_seeds = classes_per_seed.index[classes_per_seed == n_classes]
        per_seed = results[results.seed.isin(whole_seeds)].groupby("seed")["auroc"].mean()
        spread = f" ± {100 * per_seed.std():.1f}" if len(per_seed) > 1 else ""
        partial = len(classes_per_seed) - len(whole_seeds)
        left_out = f"; {partial} partial seed(s) left out" if partial else ""
        means.append(f"{100 * per_seed.mean():.1f}{spread} ({n_classes} classes, {len(per_seed)} seed(s){left_out})")
    lines.append("| **mean** | " + " | ".join(means) + " |")
    write_text_atomic(out / "summary.md", "\n".join(lines) + "\n")
    write_text_atomic(out / "candidates.md", candidate_table(frame, records))
    _plot_summary(out / "summary.png", grouped, candidates, classes)
    return out / "summary.md"


def candidate_table(frame, records: list[dict]) -> str:
    """One row per candidate, best mean first: mean and worst class AUROC, classes done, minutes per run.

    Minutes are the measured wall time of training + encoder (if the method
    uses it) + scoring the split's images, per (class, seed), on the 2-core
    machine that ran it (often shared with another job, so an upper bound).
    """
    import pandas as pd

    images = pd.Series([r.get("n_normal", 0) + r.get("n_anomaly", 0) + r.get("n_fit", 0) or r.get("n_test", 0)
                        for r in records], index=[r.get("candidate", r["method"]) for r in records])
    rows = []
    for candidate, group in frame.groupby("candidate"):
        per_class = group.groupby("normal_class")["auroc"].mean()
        n_images = float(images[candidate].mean()) if candidate in images.index else 0.0
        scoring = (n_images / group["score_images_per_second"]).mean()
        minutes = (group["train_seconds"] + group["encoder_seconds"]).mean() / 60 + scoring / 60
        operating = [_percent(group[key].mean()) for key in ("tpr_at_1pct_fpr", "recall_at_threshold")]
        tpr_by_class = group.groupby("normal_class")["tpr_at_1pct_fpr"].mean().dropna()
        worst_tpr = f"{100 * tpr_by_class.min():.1f} (class {int(tpr_by_class.idxmin())})" if len(tpr_by_class) else "–"
        rows.append((100 * per_class.mean(), candidate, group["method"].iloc[0], 100 * per_class.min(),
                     int(per_class.idxmin()), len(per_class), minutes, *operating, worst_tpr))
    lines = ["| candidate | method | mean AUROC | worst class | TPR at 1 % FPR | worst TPR at 1 % FPR | "
             "recall at threshold | classes | minutes per run |", "|---|---|---:|---|---:|---|---:|---:|---:|"]
    # candidates measured on more classes first: a mean over fewer classes is not comparable
    for mean, candidate, method, worst, worst_class, n, minutes, tpr, recall, worst_tpr in sorted(
            rows, key=lambda r: (-r[5], -r[0])):
        lines.append(f"| {candidate} | {method} | {mean:.1f} | {worst:.1f} (class {worst_class}) | {tpr} | "
                     f"{worst_tpr} | {recall} | {n} | {minutes:.1f} |")
    return "\n".join(lines) + "\n"


def _percent(value) -> str:
    """A share as a percentage, or a dash where older results did not measure it."""
    return "–" if value is None or value != value else f"{100 * value:.1f}"


def _plot_summary(path: Path, grouped, candidates, classes) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from anogan.experiments.evaluation import save_figure

    figure, axis = plt.subplots(figsize=(max(6, len(classes) * 0.9), 3.5))
    width = 0.8 / len(candidates)
    for offset, candidate in enumerate(candidates):
        rows = grouped[grouped.candidate == candidate].set_index("normal_class").reindex(classes)
        axis.bar(np.arange(len(classes)) + offset * width, 100 * rows["mean"], width,
                 yerr=100 * rows["std"].fillna(0), label=candidate, capsize=2)
    axis.set_xticks(np.arange(len(classes)) + 0.4 - width / 2, [str(c) for c in classes])
    axis.set(xlabel="normal class", ylabel="AUROC (%)", ylim=(40, 100), title="one-class AUROC")
    axis.legend(loc="lower right")
    save_figure(figure, path)
