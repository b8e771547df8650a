"""Score uploaded images against a model bundle."""

import pandas as pd
import streamlit as st
from ui import cached_bundle, choose_bundle, format_score, shared_scorer

from anogan.data.images import MAX_FILE_BYTES
from anogan.errors import AnoganError
from anogan.experiments.evaluation import spreadsheet_safe
from anogan.results.rows import MAX_UPLOAD_FILES, RESULT_COLUMNS, score_uploads
from anogan.scoring.methods import available_methods, get_method
from anogan.scoring.recipes import scoring_choice

st.title("Score images")
bundle_path = choose_bundle("score_bundle")
if bundle_path is not None:
    try:
        bundle = cached_bundle(bundle_path)
    except AnoganError as exc:
        st.error(f"Cannot open this bundle: {exc}")
        st.stop()
    methods = available_methods(bundle)
    try:
        preferred = scoring_choice(bundle).method
    except AnoganError:  # a bundle from before recipes with no encoder: no default, the user picks
        preferred = None
    method = st.radio("Method", methods, horizontal=True, key="score_method",
                      index=methods.index(preferred) if preferred in methods else 0,
                      help=" ".join(f"{name}: {get_method(name).summary}." for name in methods)
                      + " The bundle's recipe is preselected; each method scores with the settings of its last "
                      "calibration on this bundle, else the recipe's.")
    normal = ", ".join(bundle.class_names[c] for c in bundle.normal_classes)
    st.caption(f"Normal class(es): {normal}. Images are converted to 28×28 grayscale, white on black.")
    # what the method compares an image with: G(z), or (feature-knn) the nearest normal training image
    reference_symbol, reference_caption = get_method(method).reference_symbol, get_method(method).reference_caption
    uploads = st.file_uploader(f"Images (PNG, JPEG, …; up to {MAX_UPLOAD_FILES} at once)", accept_multiple_files=True,
                               key="score_uploads", max_upload_size=MAX_FILE_BYTES // 2**20)
    if uploads and len(uploads) > MAX_UPLOAD_FILES:
        st.warning(f"{len(uploads)} files uploaded; only the first {MAX_UPLOAD_FILES} are scored. "
                   f"Score larger sets with `anogan score FOLDER`.")
        uploads = uploads[:MAX_UPLOAD_FILES]
    if uploads:
        try:
            scorer, calibration, batcher = shared_scorer(bundle_path, method)
        except AnoganError as exc:
            st.error(str(exc))
            st.stop()
        with st.spinner(f"scoring {len(uploads)} image(s) with {method}…"):
            results = score_uploads(scorer, calibration, [(u.name, u.getvalue()) for u in uploads], batcher.score)
        flags = " ".join(scorer.settings.as_flags())
        st.caption(f"Threshold {format_score(calibration.threshold)} ({calibration.rule}, from "
                   f"{len(calibration.validation_scores)} normal validation images); "
                   "normalized score 0.5 = at the threshold. Settings: "
                   + (f"`{flags}` (this bundle's calibration)" if flags else "the defaults") + ".")
        if calibration.note:
            st.warning(calibration.note)
        for result in results:
            row = result.row
            if row["error"]:
                st.error(f"**{row['path']}**: {row['error']}")
                continue
            with st.container(border=True):
                name, verdict = st.columns([4, 1])
                name.markdown(f"**{row['path']}**")
                with verdict:
                    if row["is_anomaly"]:
                        st.badge("anomaly", color="red")
                    else:
                        st.badge("normal", color="green")
                left, middle, right, numbers = st.columns([1, 1, 1, 2])
                left.image(result.image, caption="input", width=112)
                middle.image(result.reconstruction, caption=reference_caption, width=112)
                right.image(result.heatmap, caption=f"residual |x − {reference_symbol}|", width=112)
                numbers.metric("score", format_score(row["score"]))
                numbers.metric("normalized score", format_score(row["normalized_score"]))
                if row["reason"]:
                    numbers.warning(f"Not an image of the trained kind: {row['reason']}")
        table = pd.DataFrame([r.row for r in results], columns=RESULT_COLUMNS).drop(
            columns=["reconstruction", "anomaly_map", "class", "label"])
        st.download_button("Download scores (CSV)", spreadsheet_safe(table).to_csv(index=False), "scores.csv",
                           "text/csv")
