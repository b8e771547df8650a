"""Training health of a run: losses, generation metrics against their floor, warnings, samples and their
nearest training images."""

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image
from ui import cached_bundle, choose_bundle

from anogan.data.datasets import to_model_range
from anogan.experiments.gan_report import NEAREST_SAMPLES, nearest_training_images
from anogan.gan.bundle import RunDirectory
from anogan.gan.callbacks import grid_tiles
from anogan.gan.monitor import health_line, health_warning, read_health


def curves(history: pd.DataFrame, names, title: str, floor: dict, epoch: int, log: bool = False):
    """Lines per metric over epochs, the floor of each as a dotted rule, and the bundle's epoch as a grey rule."""
    present = [n for n in names if n in history and history[n].notna().any()]
    long = history.melt(id_vars="epoch", value_vars=present, var_name="metric", value_name="value").dropna()
    scale = alt.Scale(type="symlog", constant=1e-3) if log else alt.Scale()
    lines = alt.Chart(long).mark_line(point=len(history) < 40).encode(
        x="epoch:Q", y=alt.Y("value:Q", scale=scale), color="metric:N", tooltip=["epoch", "metric", "value"])
    layers = [lines, alt.Chart(pd.DataFrame({"epoch": [epoch]})).mark_rule(color="grey").encode(x="epoch:Q")]
    if floor:
        floors = pd.DataFrame({"metric": present, "value": [floor[n] for n in present]})
        layers.append(alt.Chart(floors).mark_rule(strokeDash=[3, 3]).encode(y="value:Q", color="metric:N"))
    st.altair_chart(alt.layer(*layers).properties(title=title, height=260), width="stretch")


st.title("Training")
bundle_path = choose_bundle("training_bundle")
if bundle_path is not None:
    run = RunDirectory(bundle_path)
    bundle = cached_bundle(bundle_path)
    health = bundle.metadata.get("health") or read_health(run.path)
    epoch = int(bundle.metadata["training"]["epochs"])
    warning = health_warning({"health": health})
    (st.warning if warning else st.info)(f"Training health: {health_line({'health': health})}")
    if health.get("events"):
        st.dataframe(pd.DataFrame(health["events"]), hide_index=True)
    history_path = run.history
    if history_path.is_file():
        history = pd.read_csv(history_path)
        left, right = st.columns(2)
        with left:
            curves(history, ["gen_loss", "disc_loss"], "GAN losses per epoch", {}, epoch)
        with right:
            curves(history, ["fd", "kid"], "Distance to normal images (dotted: floor)", health.get("floor") or {},
                   epoch, log=True)
        curves(history, ["precision", "recall", "density", "coverage"], "Fidelity and diversity (dotted: floor)",
               health.get("floor") or {}, epoch)
        st.caption(f"{len(history)} epochs; the bundle is the last (grey line); last epoch "
                   f"{history['images_per_second'].iloc[-1]:.0f} img/s. Metrics in a fixed random feature "
                   f"network against held-out normal images; the floor is two halves of real images.")
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
        position = st.slider("Epoch", 1, len(grids), len(grids), key="sample_epoch") if len(grids) > 1 else 1
        chosen = grids[position - 1]
        st.image(str(chosen), caption=f"samples from a fixed noise batch, {chosen.stem.replace('_', ' ')}", width=336)
        samples = grid_tiles(np.asarray(Image.open(chosen).convert("L")), NEAREST_SAMPLES)
        nearest, distance = nearest_training_images(bundle, to_model_range(samples))
        st.image(list(samples), width=56, caption=["sample"] * len(samples))
        st.image(list(nearest), width=56, caption=[f"nearest train {d:.1f}" for d in distance])
        st.caption("Each sample above its nearest training image (pixel distance): near-copies mean memorisation.")
