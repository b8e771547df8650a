"""Inspect a results CSV: histograms, ROC/PR curves, a live threshold, the most anomalous images."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from anogan.results import read_results, scored_mask
from anogan.errors import AnoganError
from anogan.evaluation import compute_metrics, confusion_at, curves, labelled_scores
from ui import choose_results_file, safe_image_path

st.title("Results")
source = choose_results_file("results_file")
uploaded = st.file_uploader("…or upload a results CSV written by `anogan score`", type=["csv"], key="results_upload")
try:
    frame = read_results(uploaded) if uploaded is not None else (read_results(source) if source else None)
except AnoganError as exc:
    st.error(str(exc))
    st.stop()
if frame is None:
    st.info("No results file in the runs directory yet: run `anogan run` or `anogan score`, or upload one.")
    st.stop()

scored = frame[scored_mask(frame)].copy()
errors = frame[~scored_mask(frame)]
method = str(frame["method"].iloc[0]) if len(frame) else ""
st.caption(f"{len(frame)} rows, {len(scored)} scored, {len(errors)} errors; method {method}.")
if scored.empty:
    st.warning("No scored rows in this file.")
    st.stop()
scored["label"] = scored["label"].replace("", "unlabelled")
scored["class"] = scored["class"].astype(str).replace("", "unknown")

left, right = st.columns(2)
for column, field in ((left, "label"), (right, "class")):
    column.altair_chart(
        alt.Chart(scored).mark_bar(opacity=0.6).encode(
            x=alt.X("score:Q", bin=alt.Bin(maxbins=40), title="anomaly score"),
            y=alt.Y("count()", stack=None, title="images"),
            color=alt.Color(f"{field}:N", title=field),
        ).properties(title=f"Score histogram by {field}", height=260),
        width="stretch",
    )

stored = pd.to_numeric(scored.get("threshold", pd.Series(dtype=float)), errors="coerce").dropna()
low, high = float(scored["score"].min()), float(scored["score"].max())
default = float(stored.iloc[0]) if len(stored) else float(np.median(scored["score"]))
default = min(max(default, low), high)
threshold = st.slider("Threshold (images scoring above it are anomalies)", low, high if high > low else low + 1e-9,
                      default, key="threshold", format="%.5g")
if len(stored):
    st.caption(f"The bundle's threshold for these scores is {float(stored.iloc[0]):.5g}.")

_, y_true, _ = labelled_scores(frame)
if len(set(y_true)) == 2:
    at = confusion_at(frame, threshold)
    a, b, c, d = st.columns(4)
    a.metric("precision", f"{at['precision']:.3f}")
    b.metric("recall", f"{at['recall']:.3f}")
    c.metric("F1", f"{at['f1']:.3f}")
    d.metric("flagged", f"{at['tp'] + at['fp']}")
    st.markdown("**Confusion matrix** at this threshold")
    st.table(pd.DataFrame([[at["tn"], at["fp"]], [at["fn"], at["tp"]]],
                          index=["actual normal", "actual anomaly"], columns=["called normal", "called anomaly"]))
    roc, pr = curves(frame)
    metrics = compute_metrics(frame)
    auroc, auprc = metrics["auroc"], metrics["auprc"]
    point = pd.DataFrame({"fpr": [at["false_positive_rate"]], "tpr": [at["recall"]],
                          "precision": [at["precision"]], "recall": [at["recall"]]})
    left, right = st.columns(2)
    diagonal = pd.DataFrame({"fpr": [0, 1], "tpr": [0, 1]})
    left.altair_chart(
        (alt.Chart(roc).mark_line().encode(x=alt.X("fpr:Q", title="false positive rate"),
                                            y=alt.Y("tpr:Q", title="true positive rate"),
                                            tooltip=["fpr", "tpr", "threshold"])
         + alt.Chart(diagonal).mark_line(strokeDash=[4, 4], color="grey").encode(x="fpr:Q", y="tpr:Q")
         + alt.Chart(point).mark_point(size=120, filled=True, color="red").encode(x="fpr:Q", y="tpr:Q")
         ).properties(title=f"ROC — AUROC {auroc:.4f}", height=320),
        width="stretch",
    )
    right.altair_chart(
        (alt.Chart(pr).mark_line().encode(x=alt.X("recall:Q"), y=alt.Y("precision:Q"),
                                           tooltip=["recall", "precision", "threshold"])
         + alt.Chart(point).mark_point(size=120, filled=True, color="red").encode(x="recall:Q", y="precision:Q")
         ).properties(title=f"Precision-recall — AUPRC {auprc:.4f}", height=320),
        width="stretch",
    )
else:
    st.info("ROC and PR curves need rows labelled both normal and anomaly.")

st.subheader("All scored images, most anomalous first")
columns = [c for c in ("index", "path", "class", "label", "score", "normalized_score", "is_anomaly") if c in scored]
ranked = scored.sort_values("score", ascending=False)
st.dataframe(ranked[columns], hide_index=True, width="stretch", height=280)
if len(errors):
    with st.expander(f"{len(errors)} inputs could not be scored"):
        st.dataframe(errors[["index", "path", "error"]], hide_index=True, width="stretch")

st.subheader("Most anomalous images")
gallery = ranked.head(8)
shown = 0
cells = st.columns(4)
for _, row in gallery.iterrows():
    base = source.parent if uploaded is None and source is not None else None
    recon, heat = safe_image_path(row.get("reconstruction"), base), safe_image_path(row.get("anomaly_map"), base)
    if heat is None:
        continue
    with cells[shown % 4]:
        original = safe_image_path(row.get("path"), base)
        images = [str(p) for p in (original, recon, heat) if p is not None]
        st.image(images, width=84)
        st.caption(f"#{row['index']} class {row['class']} · score {row['score']:.4g}")
    shown += 1
if shown == 0:
    st.info("No residual maps for this file: score with `--maps DIR` (inside the runs directory) to see them.")
