"""Inspect a results CSV: histograms, ROC/PR curves, a live threshold, the most anomalous images."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from ui import choose_results_file, format_score, input_image, runs_dir, safe_image_path

from anogan.errors import AnoganError
from anogan.experiments.evaluation import OPERATING_POINTS, compute_metrics, confusion_at, curves, labelled_scores
from anogan.results.files import find_results, read_results
from anogan.results.rows import scored_mask
from anogan.storage import resolve_under

st.title("Results")
source = choose_results_file("results_file")
uploaded = st.file_uploader("…or upload a results file (CSV or Parquet) written by `anogan score`",
                            type=["csv", "parquet"], key="results_upload")
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

stored = pd.to_numeric(scored.get("threshold", pd.Series(dtype=float)), errors="coerce").dropna()
low, high = float(scored["score"].min()), float(scored["score"].max())
default = float(stored.iloc[0]) if len(stored) else float(np.median(scored["score"]))
default = min(max(default, low), high)


def _back_to_the_bundles_threshold():
    st.session_state["threshold"] = default


threshold = st.slider("Threshold (images scoring above it are anomalies)", low, high if high > low else low + 1e-9,
                      default, step=max(high - low, 1e-9) / 10_000, key="threshold", format="%.4g")
if len(stored):
    note, button = st.columns([3, 1])
    note.caption(f"The bundle's threshold for these scores is {format_score(float(stored.iloc[0]))}.")
    button.button("Back to the bundle's threshold", on_click=_back_to_the_bundles_threshold)

rule = alt.Chart(pd.DataFrame({"score": [threshold]})).mark_rule(color="red", strokeDash=[5, 3], size=2).encode(
    x="score:Q")
left, right = st.columns(2)
for column, field in ((left, "label"), (right, "class")):
    bars = alt.Chart(scored).mark_bar(opacity=0.6).encode(
        x=alt.X("score:Q", bin=alt.Bin(maxbins=40), title="anomaly score (red line: threshold)"),
        y=alt.Y("count()", stack=None, title="images"),
        color=alt.Color(f"{field}:N", title=field),
    )
    column.altair_chart((bars + rule).properties(title=f"Score histogram by {field}", height=260), width="stretch")

_, y_true, _ = labelled_scores(frame)
if len(set(y_true)) == 2:
    at = confusion_at(frame, threshold)
    a, b, c, d = st.columns(4)
    a.metric("precision", format_score(at["precision"]))
    b.metric("recall", format_score(at["recall"]))
    c.metric("F1", format_score(at["f1"]))
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
    st.subheader("What a threshold costs and catches")
    st.caption("Each point is a threshold: the share of these normal images it flags (false positives) against "
               "the share of these anomalies it catches. The bundle's threshold was set on its normal validation "
               "images for a promised false-positive rate; here it is measured on this file's images.")
    marks = [{"where": "this slider", "fpr": at["false_positive_rate"], "tpr": at["recall"]}]
    if len(stored):
        bundle_point = confusion_at(frame, float(stored.iloc[0]))
        marks.insert(0, {"where": "the bundle's threshold", "fpr": bundle_point["false_positive_rate"],
                         "tpr": bundle_point["recall"]})
    low_fpr = roc[roc["fpr"] <= 0.2]
    st.altair_chart(
        (alt.Chart(low_fpr).mark_line(interpolate="step-after").encode(
            x=alt.X("fpr:Q", title="normal images flagged (false-positive rate)", axis=alt.Axis(format="%")),
            y=alt.Y("tpr:Q", title="anomalies caught (recall)", axis=alt.Axis(format="%")),
            tooltip=[alt.Tooltip("fpr:Q", format=".2%"), alt.Tooltip("tpr:Q", format=".1%"), "threshold"])
         + alt.Chart(pd.DataFrame(marks)).mark_point(size=140, filled=True).encode(
             x="fpr:Q", y="tpr:Q", color=alt.Color("where:N", title="marked"),
             tooltip=["where", alt.Tooltip("fpr:Q", format=".2%"), alt.Tooltip("tpr:Q", format=".1%")])
         ).properties(height=300),
        width="stretch",
    )
    st.table(pd.DataFrame(
        [{"false positives allowed": f"{rate:.0%}", "anomalies caught": f"{metrics[key]:.1%}"}
         for key, rate in OPERATING_POINTS.items()]
        + ([{"false positives allowed": f"{bundle_point['false_positive_rate']:.1%} (the bundle's threshold)",
             "anomalies caught": f"{bundle_point['recall']:.1%}"}] if len(stored) else [])).set_index(
        "false positives allowed"))
else:
    st.info("ROC and PR curves need rows labelled both normal and anomaly.")

st.subheader("All scored images, most anomalous first")
columns = [c for c in ("index", "path", "class", "label", "score", "normalized_score", "is_anomaly", "reason")
           if c in scored]
ranked = scored.sort_values("score", ascending=False)
st.dataframe(ranked[columns], hide_index=True, width="stretch", height=280)
if len(errors):
    with st.expander(f"{len(errors)} inputs could not be scored"):
        st.dataframe(errors[["index", "path", "error"]], hide_index=True, width="stretch")

st.subheader("Most anomalous images")
base = source.parent if uploaded is None and source is not None else None
shown = 0
cells = st.columns(2)
for _, row in ranked.head(8).iterrows():
    recon, heat = safe_image_path(row.get("reconstruction"), base), safe_image_path(row.get("anomaly_map"), base)
    if heat is None:
        continue
    original = input_image(row.get("path"), base)
    with cells[shown % 2].container(border=True):
        panels = st.columns(3)
        if original is None:
            panels[0].caption("input not available here")
        else:
            panels[0].image(original, caption="input", width=84)
        if recon is not None:
            panels[1].image(str(recon), caption="reconstruction", width=84)
        panels[2].image(str(heat), caption="residual", width=84)
        st.caption(f"{row['path'] or '#' + str(row['index'])} · class {row['class']} · "
                   f"score {format_score(row['score'])}")
    shown += 1
if shown == 0:
    st.info("No residual maps for this file: score with `--maps DIR` (inside the runs directory) to see them.")

st.subheader("Compare results files")
others = st.multiselect("Overlay the ROC and PR curves of these results files (methods or runs)",
                        [str(f.relative_to(runs_dir())) for f in find_results(runs_dir())], key="compare")
if others:
    roc_lines, pr_lines, aurocs = [], [], []
    for name in others:
        try:
            other = read_results(resolve_under(runs_dir(), name))
            roc, pr = curves(other)
        except (AnoganError, ValueError) as exc:
            st.warning(f"{name}: {exc}")
            continue
        label = f"{name} ({other['method'].iloc[0]})"
        roc_lines.append(roc.assign(file=label))
        pr_lines.append(pr.assign(file=label))
        aurocs.append({"file": label, **{k: compute_metrics(other)[k] for k in ("auroc", "auprc")}})
    if roc_lines:
        left, right = st.columns(2)
        left.altair_chart(alt.Chart(pd.concat(roc_lines)).mark_line().encode(
            x=alt.X("fpr:Q", title="false positive rate"), y=alt.Y("tpr:Q", title="true positive rate"),
            color=alt.Color("file:N", legend=alt.Legend(orient="bottom", columns=1))).properties(title="ROC", height=320),
            width="stretch")
        right.altair_chart(alt.Chart(pd.concat(pr_lines)).mark_line().encode(
            x="recall:Q", y="precision:Q",
            color=alt.Color("file:N", legend=alt.Legend(orient="bottom", columns=1))).properties(
            title="Precision-recall", height=320), width="stretch")
        st.table(pd.DataFrame(aurocs).set_index("file").map(format_score))
