import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from anogan.experiments.evaluation import compute_metrics, evaluate
from anogan.results.rows import RESULT_COLUMNS


def _results_csv(path, rows):
    frame = pd.DataFrame([{**dict.fromkeys(RESULT_COLUMNS, ""), "method": "encoder", **row} for row in rows])
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def hand_built(tmp_path):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        anomaly = i % 3 == 0
        score = rng.normal(2.0 if anomaly else 1.0, 0.6)
        rows.append({"index": i, "class": "7" if anomaly else "0", "label": "anomaly" if anomaly else "normal",
                     "score": score, "is_anomaly": score > 1.8})
    rows.append({"index": 40, "path": "bad.png", "class": "0", "label": "normal", "error": "empty file (0 bytes)"})
    rows.append({"index": 41, "class": "", "label": "", "score": 9.9, "is_anomaly": True})
    return _results_csv(tmp_path / "results.csv", rows), rows


def test_metrics_match_scikit_learn(hand_built):
    path, rows = hand_built
    labelled = [r for r in rows if r.get("label") and not r.get("error")]
    y = np.array([r["label"] == "anomaly" for r in labelled], dtype=int)
    s = np.array([r["score"] for r in labelled])
    predicted = np.array([r["is_anomaly"] for r in labelled], dtype=int)
    metrics = compute_metrics(pd.read_csv(path, keep_default_na=False, na_values={"score": [""]}))
    assert metrics["auroc"] == pytest.approx(roc_auc_score(y, s))
    assert metrics["auprc"] == pytest.approx(average_precision_score(y, s))
    tp = int(((predicted == 1) & (y == 1)).sum())
    fp = int(((predicted == 1) & (y == 0)).sum())
    fn = int(((predicted == 0) & (y == 1)).sum())
    at = metrics["at_bundle_threshold"]
    assert (at["tp"], at["fp"], at["fn"]) == (tp, fp, fn)
    assert at["precision"] == pytest.approx(tp / (tp + fp)) and at["recall"] == pytest.approx(tp / (tp + fn))
    assert metrics["n_errors"] == 1 and metrics["n_labelled"] == 40
    f1_at_threshold = ((s > metrics["f1_max_threshold"]).astype(int))
    tp_f1 = ((f1_at_threshold == 1) & (y == 1)).sum()
    f1 = 2 * tp_f1 / (f1_at_threshold.sum() + y.sum())
    assert f1 == pytest.approx(metrics["f1_max"])
    assert metrics["per_class"]["7"]["n"] == 14 and metrics["per_class"]["0"]["label"] == "normal"


def test_evaluate_writes_metrics_curves_and_plots(hand_built, tmp_path):
    path, _ = hand_built
    out = tmp_path / "eval"
    metrics = evaluate(path, out)
    for name in ("metrics.json", "roc.csv", "pr.csv", "roc.png", "pr.png", "histogram.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.json").read_text())["auroc"] == pytest.approx(metrics["auroc"])
    roc = pd.read_csv(out / "roc.csv")
    assert roc["fpr"].iloc[-1] == 1.0 and roc["tpr"].is_monotonic_increasing


def test_single_label_results_explain_missing_metrics(tmp_path):
    path = _results_csv(tmp_path / "r.csv", [{"index": 0, "class": "0", "label": "normal", "score": 1.0, "is_anomaly": False}])
    metrics = evaluate(path, tmp_path / "eval")
    assert "auroc" not in metrics and "both normal and anomaly" in metrics["note"]
