"""Shared pieces of the dashboard pages: access control, the runs directory, cached bundles, per-session scorers."""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Optional

import streamlit as st

import anogan  # noqa: F401  (quiets TensorFlow's start-up log)
from anogan.errors import AnoganError
from anogan.gan.bundle import find_bundles, load_bundle
from anogan.results.files import find_results
from anogan.storage import resolve_under

RUNS_DIR_ENV = "ANOGAN_RUNS_DIR"
TOKEN_ENV = "ANOGAN_DASHBOARD_TOKEN"


def keep_keras_state_between_reruns() -> None:
    """Stop Streamlit from clearing Keras' session after every script run.

    Streamlit does that for scripts that build a new model on each run. The dashboard builds its
    networks once and shares them between sessions (:func:`shared_scorer`), so the clearing only
    costs: a full garbage collection and TensorFlow's kernel cache, after every rerun of every
    session, a third of the server's CPU with 8 sessions scoring. Matplotlib's figures are still
    closed, as Streamlit does. Streamlit's hook is private; if it is renamed this does nothing.
    """
    import sys

    from streamlit.runtime.scriptrunner import script_runner

    def close_figures_only() -> None:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")

    if hasattr(script_runner, "_clean_problem_modules"):
        script_runner._clean_problem_modules = close_figures_only


def require_token() -> None:
    """With ``ANOGAN_DASHBOARD_TOKEN`` set, stop every page until this browser session has given it.

    The comparison takes constant time, so response times do not leak how
    much of a guess was right.
    """
    token = os.environ.get(TOKEN_ENV, "")
    if not token or st.session_state.get("token_accepted"):
        return
    st.title("anogan")
    with st.form("access"):
        given = st.text_input("Access token", type="password", key="access_token")
        submitted = st.form_submit_button("Open")
    if submitted:
        if hmac.compare_digest(given.encode(), token.encode()):
            st.session_state["token_accepted"] = True
            st.rerun()
        st.error("Wrong access token.")
    st.stop()


def runs_dir() -> Path:
    return Path(os.environ.get(RUNS_DIR_ENV, "runs")).resolve()


@st.cache_resource(max_entries=8, show_spinner="loading model bundle…")
def _load_bundle(path: str, modified: float):
    return load_bundle(path)


def cached_bundle(path: Path):
    """The bundle at ``path``, loaded once per (path, modification time of bundle.json)."""
    return _load_bundle(str(path), (path / "bundle.json").stat().st_mtime)


def choose_bundle(key: str) -> Optional[Path]:
    """A bundle picked from the runs directory, or ``None`` (with a hint) when there is none."""
    root = runs_dir()
    bundles = find_bundles(root)
    if not bundles:
        st.info(f"No model bundle under `{root}`. Run `anogan run` (or `anogan train`) first, "
                f"or point the dashboard elsewhere with `anogan dashboard --runs-dir DIR`.")
        return None
    labels = [str(b.relative_to(root)) or "." for b in bundles]
    choice = st.selectbox("Model bundle", labels, key=key)
    return resolve_under(root, choice)


def choose_results_file(key: str) -> Optional[Path]:
    root = runs_dir()
    files = find_results(root)
    if not files:
        return None
    labels = [str(f.relative_to(root)) for f in files]
    return resolve_under(root, st.selectbox("Results file", labels, key=key))


@st.cache_resource(max_entries=8, show_spinner=False)
def _shared_scorer(path: str, modified: float, method: str):
    from anogan.experiments.pipeline import prepare_scorer
    from anogan.scoring.recipes import scoring_choice
    from anogan.serve.batcher import BackgroundBatcher

    bundle = _load_bundle(path, modified)
    scorer, calibration = prepare_scorer(bundle, method, scoring_choice(bundle, method).settings, progress=False,
                                         save=False)
    return scorer, calibration, BackgroundBatcher(scorer.score, scorer.chunk_size)


def shared_scorer(bundle_path: Path, method: str):
    """A scorer, its calibration and its micro-batcher, built once per (bundle, version, method) for every
    browser session.

    The scorer takes the settings ``anogan score`` would
    (:func:`anogan.scoring.recipes.scoring_choice`: the bundle's stored calibration
    of ``method``, else its recipe's), so an upload is scored like the
    results files beside the bundle.

    One scorer holds large state (``feature-knn``: the reference features, up
    to 250 MB), so sessions share it, and they score through one
    micro-batcher (the API's): concurrent uploads share scorer calls, which
    run on the batcher's one thread.
    """
    with st.spinner(f"preparing the {method} scorer…"):
        return _shared_scorer(str(bundle_path), (bundle_path / "bundle.json").stat().st_mtime, method)


def format_score(value: float) -> str:
    """Scores everywhere in the dashboard with four significant figures."""
    return f"{value:.4g}"


@st.cache_resource(max_entries=4, show_spinner="loading the scored images…")
def _array_input(spec: str, data: Optional[str]):
    from anogan.data.inputs import open_input

    return open_input(spec, data)


def input_image(path, base: Optional[Path] = None):
    """The image a results row scored: its file (inside the runs directory), or image ``i`` of ``SPEC#i``.

    A dataset split (``mnist:test#755``) is opened with the data files of the
    bundle the results file sits in, when there is one; ``None`` when the
    image cannot be found here.
    """
    from anogan.data.inputs import array_item

    if not isinstance(path, str) or not path:
        return None
    located = array_item(path)
    if located is None:
        found = safe_image_path(path, base)
        return str(found) if found is not None else None
    spec, index = located
    data = None
    if base is not None and (base / "bundle.json").is_file():
        data = cached_bundle(base).metadata.get("dataset", {}).get("data")
    try:
        if ":" not in spec:  # an .npz file: only inside the runs directory
            spec = str(resolve_under(runs_dir(), (base / spec) if base is not None else spec))
        return _array_input(spec, data).item(index).image
    except (AnoganError, IndexError, OSError):
        return None


def safe_image_path(value, base: Optional[Path] = None) -> Optional[Path]:
    """A file named in a results row (relative to ``base``, the results file's folder), if inside the runs directory."""
    if not isinstance(value, str) or not value:
        return None
    try:
        path = resolve_under(runs_dir(), (base / value) if base is not None else value)
    except AnoganError:
        return None
    return path if path.is_file() else None
