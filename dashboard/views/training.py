"""Loss curves and sample grids of a training run."""

import altair as alt
import pandas as pd
import streamlit as st
from ui import choose_bundle

from anogan.gan.bundle import RunDirectory

st.title("Training")
bundle_path = choose_bundle("training_bundle")
if bundle_path is not None:
    run = RunDirectory(bundle_path)
    history_path = run.history
    if history_path.is_file():
        history = pd.read_csv(history_path)
        long = history.melt(id_vars="epoch", value_vars=["gen_loss", "disc_loss"], var_name="loss", value_name="value")
        st.altair_chart(
            alt.Chart(long).mark_line(point=len(history) < 40).encode(
                x="epoch:Q", y=alt.Y("value:Q", title="loss"), color="loss:N", tooltip=["epoch", "loss", "value"]
            ).properties(title="GAN losses per epoch", height=300),
            width="stretch",
        )
        st.caption(f"{len(history)} epochs; last epoch {history['images_per_second'].iloc[-1]:.0f} img/s.")
    else:
        st.info(f"This run has no {history_path.name}.")
    encoder_path = run.encoder_history
    if encoder_path.is_file():
        encoder = pd.read_csv(encoder_path)
        long = encoder.melt(id_vars="epoch", value_vars=["residual", "feature"], var_name="term", value_name="value")
        st.altair_chart(
            alt.Chart(long).mark_line().encode(x="epoch:Q", y=alt.Y("value:Q", title="MSE"), color="term:N")
            .properties(title="Encoder loss terms per epoch", height=240),
            width="stretch",
        )
    grids = run.sample_grids()
    if grids:
        if len(grids) > 1:
            position = st.slider("Epoch", 1, len(grids), len(grids), key="sample_epoch")
        else:
            position = 1
        chosen = grids[position - 1]
        st.image(str(chosen), caption=f"samples from a fixed noise batch, {chosen.stem.replace('_', ' ')}", width=336)
