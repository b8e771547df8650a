"""Evaluation of a results CSV with scikit-learn metrics, plus plots.

Only rows with a known label (``normal``/``anomaly``) and no error count.
Anomaly is the positive class. The bundle's threshold is the one recorded in
the file's ``is_anomaly`` column, so evaluating never re-fits a threshold on
the data being evaluated; the F1-max threshold is reported as an oracle
figure for comparison only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from anogan.errors import AnoganError
from anogan.results.files import read_results
from anogan.results.rows import scored_mask
from anogan.storage import atomic_path, write_json_atomic


def _as_bool(values) -> np.ndarray:
    return np.array([str(v).strip().lower() in ("true", "1") for v in values])


def label_unknown(frame, unknown_as: Optional[str]):
    """``frame`` with its unlabelled scored rows labelled ``unknown_as`` (``normal``/``anomaly``), or as it is."""
    if unknown_as is None:
        return frame
    if unknown_as not in ("normal", "anomaly"):
        raise AnoganError(f"unknown rows can be labelled normal or anomaly, not {unknown_as!r}")
    frame = frame.copy()
    frame.loc[scored_mask(frame) & ~frame["label"].isin(["normal", "anomaly"]).to_numpy(), "label"] = unknown_as
    return frame


def labelled_scores(frame):
    """The scored rows with a label: (frame subset, y_true with anomaly = 1, scores)."""
    scored = frame[scored_mask(frame) & frame["label"].isin(["normal", "anomaly"]).to_numpy()]
    scored = scored[np.isfinite(scored["score"].astype(float))]
    return scored, (scored["label"] == "anomaly").to_numpy().astype(int), scored["score"].to_numpy(dtype=float)


# The operating points every evaluation reports beside AUROC: the share of anomalies caught when this share
# of the evaluated normals is flagged.
OPERATING_POINTS = {"tpr_at_1pct_fpr": 0.01, "tpr_at_5pct_fpr": 0.05}


def tpr_at_fpr(y_true: np.ndarray, scores: np.ndarray, rate: float) -> float:
    """The share of anomalies caught by the best threshold that flags at most ``rate`` of the normals (from the ROC).

    Example:
        >>> tpr_at_fpr(np.array([0, 0, 0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.9, 0.8, 0.95]), 0.0)
        0.5
    """
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y_true, scores)
    return float(tpr[fpr <= rate + 1e-12].max())


def ranking_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict:
    """AUROC, AUPRC, F1-max and the :data:`OPERATING_POINTS` of scores against labels (anomaly = 1)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    from anogan.scoring.calibration import f1_max_threshold

    f1_threshold, f1_max = f1_max_threshold(y_true, scores)
    return {"auroc": float(roc_auc_score(y_true, scores)), "auprc": float(average_precision_score(y_true, scores)),
            "f1_max": f1_max, "f1_max_threshold": f1_threshold,
            **{key: tpr_at_fpr(y_true, scores, rate) for key, rate in OPERATING_POINTS.items()}}


def compute_metrics(frame) -> dict:
    """AUROC, AUPRC, F1-max and the confusion at the bundle's threshold, per file.

    Example:
        >>> metrics = compute_metrics(read_results("runs/demo/results.csv"))  # doctest: +SKIP
        >>> round(metrics["auroc"], 3)  # doctest: +SKIP
        0.97
    """
    scored, y_true, scores = labelled_scores(frame)
    metrics = {
        "method": str(frame["method"].iloc[0]) if len(frame) and "method" in frame else "",
        "n_rows": int(len(frame)),
        "n_errors": int((~scored_mask(frame)).sum()),
        "n_labelled": int(len(scored)),
        "n_unlabelled": int((scored_mask(frame) & ~frame["label"].isin(["normal", "anomaly"]).to_numpy()).sum()),
        "n_normal": int((y_true == 0).sum()),
        "n_anomaly": int((y_true == 1).sum()),
    }
    if metrics["n_normal"] == 0 or metrics["n_anomaly"] == 0:
        metrics["note"] = "AUROC, AUPRC and F1 need both normal and anomaly rows"
    else:
        at_threshold = confusion(y_true, _as_bool(scored["is_anomaly"]).astype(int))
        metrics.update(**ranking_metrics(y_true, scores), at_bundle_threshold=at_threshold,
                       recall_at_threshold=at_threshold["recall"])
    metrics["per_class"] = per_class_summary(frame)
    return metrics


def confusion(y_true: np.ndarray, predicted: np.ndarray) -> dict:
    """Counts, precision, recall and F1 of binary predictions (anomaly = 1)."""
    from sklearn.metrics import confusion_matrix

    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y_true, predicted, labels=[0, 1]).ravel())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    false_positive_rate = fp / (fp + tn) if fp + tn else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "false_positive_rate": false_positive_rate,
            "tp": tp, "fp": fp, "tn": tn, "fn": fn}


def confusion_at(frame, threshold: float) -> dict:
    """:func:`confusion` of the labelled rows when images scoring above ``threshold`` are called anomalies."""
    _, y_true, scores = labelled_scores(frame)
    return confusion(y_true, (scores > threshold).astype(int))


def curves(frame):
    """ROC and precision-recall curve points of the labelled rows, as two DataFrames."""
    import pandas as pd
    from sklearn.metrics import precision_recall_curve, roc_curve

    _, y_true, scores = labelled_scores(frame)
    fpr, tpr, roc_thresholds = roc_curve(y_true, scores)
    precision, recall, pr_thresholds = precision_recall_curve(y_true, scores)
    roc = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": roc_thresholds})
    pr = pd.DataFrame({"precision": precision[:-1], "recall": recall[:-1], "threshold": pr_thresholds})
    return roc, pr


def per_class_summary(frame) -> dict:
    scored = frame[scored_mask(frame)]
    summary = {}
    for class_name, group in scored.groupby(scored["class"].astype(str), sort=True):
        scores = group["score"].to_numpy(dtype=float)
        summary[class_name] = {
            "label": str(group["label"].iloc[0]),
            "n": int(len(group)),
            "mean": float(scores.mean()),
            "std": float(scores.std()),
            "median": float(np.median(scores)),
            "flagged_fraction": float(_as_bool(group["is_anomaly"]).mean()),
        }
    return summary


def evaluate(results: os.PathLike | str, out: os.PathLike | str, unknown_as: Optional[str] = None) -> dict:
    """Evaluate a results CSV; write ``metrics.json``, curve CSVs and PNG plots to ``out``.

    Rows whose class the bundle does not know have no label and are left out
    (``n_unlabelled`` counts them) unless ``unknown_as`` labels them.
    """
    frame = label_unknown(read_results(results), unknown_as)
    metrics = compute_metrics(frame)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics["results"] = str(results)
    write_json_atomic(out / "metrics.json", metrics)
    if "auroc" in metrics:
        roc, pr = curves(frame)
        with atomic_path(out / "roc.csv") as temp:
            roc.to_csv(temp, index=False)
        with atomic_path(out / "pr.csv") as temp:
            pr.to_csv(temp, index=False)
        _plot_curves(out, metrics, roc, pr)
    per_class = pd.DataFrame([{"class": name, **values} for name, values in metrics["per_class"].items()])
    with atomic_path(out / "per_class.csv") as temp:
        spreadsheet_safe(per_class).to_csv(temp, index=False)
    _plot_histogram(out, frame)
    return metrics


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(frame):
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas ("CSV injection").

    A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading apostrophe, so a spreadsheet shows it as text. Use
    it for tables meant for people; results CSVs that programs read back
    (``--resume``) keep their exact paths.

    Example:
        >>> spreadsheet_safe(pd.DataFrame({"path": ["=HYPERLINK(1)", "a.png"]}))["path"].tolist()
        ["'=HYPERLINK(1)", 'a.png']
    """
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = [f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v
                            for v in safe[column]]
    return safe


def save_figure(figure, path: Path) -> None:
    """Write a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)


def _plot_curves(out: Path, metrics: dict, roc, pr) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.plot(roc["fpr"], roc["tpr"], label=f"AUROC {metrics['auroc']:.3f}")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    axis.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC ({metrics['method']})")
    axis.legend(loc="lower right")
    save_figure(figure, out / "roc.png")
    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.plot(pr["recall"], pr["precision"], label=f"AUPRC {metrics['auprc']:.3f}")
    axis.axhline(metrics["n_anomaly"] / metrics["n_labelled"], linestyle="--", color="grey", label="chance")
    axis.set(xlabel="recall", ylabel="precision", title=f"precision-recall ({metrics['method']})")
    axis.legend(loc="lower left")
    save_figure(figure, out / "pr.png")


def _plot_histogram(out: Path, frame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scored = frame[scored_mask(frame)]
    if scored.empty:
        return
    figure, axis = plt.subplots(figsize=(6, 3.5))
    bins = np.histogram_bin_edges(scored["score"].to_numpy(dtype=float), bins=40)
    for label, group in scored.groupby(scored["label"].replace("", "unlabelled")):
        axis.hist(group["score"].to_numpy(dtype=float), bins=bins, alpha=0.6, label=str(label))
    axis.set(xlabel="anomaly score", ylabel="images", title="score histogram")
    axis.legend()
    save_figure(figure, out / "histogram.png")
