"""The Streamlit dashboard, page by page, with streamlit.testing's AppTest."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")


@pytest.fixture
def app(runs_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ANOGAN_RUNS_DIR", str(runs_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_score_page_scores_a_good_upload_and_reports_a_bad_one(app, shapes_dataset):
    assert app.title[0].value == "Score images"
    app.file_uploader(key="score_uploads").set_value([
        ("disc.png", _png(shapes_dataset.x_test[0]), "image/png"),
        ("broken.png", b"\x89PNG\r\n\x1a\n broken", "image/png"),
    ])
    app.run()
    assert not app.exception
    assert any("broken.png" in e.value and "not a recognised image" in e.value for e in app.error)
    labels = [m.label for m in app.metric]
    assert "score" in labels and "normalized score" in labels
    assert any(m.label == "normalized score" and 0 <= float(m.value) <= 1 for m in app.metric)


@pytest.mark.slow
def test_score_page_scores_with_the_settings_the_bundle_was_calibrated_with(runs_dir, shapes_dataset, tmp_path,
                                                                            monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    from anogan.experiments.pipeline import prepare_scorer
    from anogan.gan.bundle import load_bundle
    from anogan.scoring.settings import ScoringSettings

    shutil.copytree(runs_dir, tmp_path / "runs")
    chosen = ScoringSettings(steps=0, latent_bank=64, lam=0.7, standardize=True, critic_weight=0.5)
    _, calibration = prepare_scorer(load_bundle(tmp_path / "runs" / "shapes"), "anogan", chosen, progress=False)
    monkeypatch.setenv("ANOGAN_RUNS_DIR", str(tmp_path / "runs"))
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.radio(key="score_method").set_value("anogan").run()
    app.file_uploader(key="score_uploads").set_value([("disc.png", _png(shapes_dataset.x_test[0]), "image/png")])
    app.run()
    assert not app.exception
    caption = next(c.value for c in app.caption if c.value.startswith("Threshold"))
    assert f"Threshold {calibration.threshold:.4g}" in caption
    assert " ".join(chosen.as_flags()) in caption


def test_results_page_threshold_slider_moves_the_confusion_matrix(app):
    app.switch_page("views/results.py").run()
    assert not app.exception
    assert app.title[0].value == "Results"
    before = app.table[0].value.copy()
    slider = app.slider(key="threshold")
    slider.set_value(slider.min).run()
    assert not app.exception
    after = app.table[0].value
    total = int(after.to_numpy().sum())
    assert int(after["called anomaly"].sum()) == total - 1  # only the lowest score is not above the threshold
    assert not before.equals(after)


def test_training_page_shows_losses_and_samples(app):
    app.switch_page("views/training.py").run()
    assert not app.exception
    assert app.title[0].value == "Training"
    assert any("epochs" in c.value for c in app.caption)
    health = [m.value for m in [*app.info, *app.warning] if m.value.startswith("Training health")]
    assert health and "generation not measured" in health[0]  # the tiny test bundle has too few validation images
    assert any("nearest training image" in c.value for c in app.caption)


def test_about_page_shows_the_bundles_calibration(app):
    app.switch_page("views/about.py").run()
    assert not app.exception
    assert app.table[0].value["method"].tolist() == ["encoder"]


def test_pages_explain_an_empty_runs_directory(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ANOGAN_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception and "No model bundle" in at.info[0].value
    at.switch_page("views/results.py").run()
    assert not at.exception and "No results file" in at.info[0].value


@pytest.mark.slow
def test_every_page_renders_in_headless_chromium(runs_dir):
    """A real browser: each page finishes its script without a Streamlit exception."""
    import os
    import sys

    required = os.environ.get("ANOGAN_REQUIRE_BROWSER") == "1"
    try:
        import playwright  # noqa: F401
    except ImportError:
        if required:
            raise
        pytest.skip("playwright is not installed")
    if not Path("/usr/bin/chromium").exists():
        if required:
            pytest.fail("/usr/bin/chromium is missing (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed")
    sys.path.insert(0, str(Path(APP).parent))
    from browser_check import check_pages, serve_dashboard

    samples = sorted((Path(APP).parents[1] / "data" / "samples").glob("*/*.png"))[:3]
    with serve_dashboard(runs_dir) as (url, _):
        titles = check_pages(url, uploads=[*samples, Path(__file__)])
    assert titles == {"score": "Score images", "results": "Results", "training": "Training", "about": "About anogan"}


def test_score_page_gives_one_message_per_bad_upload_and_scores_odd_valid_ones(app, shapes_dataset,
                                                                              png_claiming_size):
    rgba = Image.fromarray(np.dstack([shapes_dataset.x_test[0]] * 4))
    sixteen = Image.fromarray(shapes_dataset.x_test[1].astype(np.uint16) * 257)
    good = {}
    for name, image in (("rgba.png", rgba), ("sixteen.png", sixteen)):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        good[name] = buffer.getvalue()
    bad = {
        "empty.png": b"",
        "text.png": b"plain text, not pixels",
        "random.jpg": np.random.default_rng(0).bytes(2000),
        "truncated.png": good["rgba.png"][:60],
        "huge.png": png_claiming_size(30000, 30000),
    }
    app.file_uploader(key="score_uploads").set_value(
        [(name, data, "image/png") for name, data in {**good, **bad}.items()]
    )
    app.run()
    assert not app.exception
    messages = [e.value for e in app.error]
    for name in bad:
        assert sum(name in m for m in messages) == 1, name
    assert sum(m.label == "score" for m in app.metric) == len(good)


def test_results_page_gallery_compare_and_the_bundles_threshold(app):
    app.switch_page("views/results.py").run()
    assert not app.exception
    captions = [c.value for c in app.caption]
    assert any("test.npz#" in c and "score" in c for c in captions)  # array rows are named SPEC#INDEX
    assert not any("input not available" in c for c in captions)    # and their input is shown
    bundle_threshold = app.slider(key="threshold").value
    app.slider(key="threshold").set_value(app.slider(key="threshold").min).run()
    next(b for b in app.button if b.label == "Back to the bundle's threshold").click().run()
    assert app.slider(key="threshold").value == bundle_threshold
    app.multiselect(key="compare").set_value([app.multiselect(key="compare").options[0]]).run()
    assert not app.exception
    assert list(app.table[-1].value.columns) == ["auroc", "auprc"]


def test_streamlit_keeps_the_shared_keras_state_between_reruns_but_still_closes_figures(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import keras
    import matplotlib.pyplot as plt
    from streamlit.runtime.scriptrunner import script_runner

    monkeypatch.syspath_prepend(str(Path(APP).parent))
    monkeypatch.setattr(script_runner, "_clean_problem_modules", script_runner._clean_problem_modules)
    from ui import keep_keras_state_between_reruns

    cleared = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: cleared.append(1))
    keep_keras_state_between_reruns()
    plt.figure()
    script_runner._clean_problem_modules()  # what Streamlit runs after every script run
    assert cleared == [] and plt.get_fignums() == []
