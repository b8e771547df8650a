"""Bad input, interruption and safe loading: clear errors and nothing lost."""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from anogan.data.datasets import validate_images
from anogan.data.images import read_image
from anogan.data.inputs import open_input
from anogan.engines.scoring_job import score_to_file
from anogan.errors import AnoganError, ImageError
from anogan.gan.bundle import load_bundle
from anogan.scoring.scorer import Scorer
from anogan.scoring.settings import ScoringSettings
from anogan.storage import resolve_under, sha256_file

# --- images -------------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_never_crash_the_decoder(payload):
    try:
        image = read_image(payload)
    except ImageError as exc:
        assert str(exc)
    else:
        assert image.shape == (28, 28) and image.dtype == np.uint8


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=8, max_value=4000), st.sampled_from([0.1, 0.5, 0.9]))
def test_truncated_pngs_are_reported_not_crashed(seed, fraction):
    array = np.random.default_rng(seed).integers(0, 256, size=(40, 40), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    data = buffer.getvalue()
    with pytest.raises(ImageError):
        read_image(data[: int(len(data) * fraction)])


def _save(image, path, **options):
    image.save(path, **options)
    return path


@pytest.fixture
def messy_folder(tmp_path, png_claiming_size):
    root = tmp_path / "messy" / "0"
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 10:18] = 255
    valid = {
        "gray.png": _save(Image.fromarray(digit), root / "gray.png"),
        "rgba.png": _save(Image.fromarray(np.dstack([digit] * 3 + [digit])), root / "rgba.png"),
        "sixteen.png": _save(Image.fromarray(digit.astype(np.uint16) * 257), root / "sixteen.png"),
        "palette.png": _save(Image.fromarray(digit).convert("P"), root / "palette.png"),
        "photo.jpg": _save(Image.fromarray(np.dstack([digit] * 3)).resize((300, 200)), root / "photo.jpg", quality=80),
        "odd.bmp": _save(Image.fromarray(digit).resize((17, 45)), root / "odd.bmp"),
    }
    (root / "zero.png").write_bytes(b"")
    (root / "text.png").write_text("definitely not an image\n")
    (root / "random.jpg").write_bytes(rng.bytes(4096))
    full = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(full, format="PNG")
    (root / "truncated.png").write_bytes(full.getvalue()[:300])
    (root / "huge_header.png").write_bytes(png_claiming_size(30000, 30000))
    return root.parent, valid


def test_a_messy_folder_scores_every_valid_image_and_names_each_problem(messy_folder, scoring_bundle, tmp_path):
    root, valid = messy_folder
    scorer = Scorer(scoring_bundle, "encoder")
    from anogan.scoring.calibration import calibrate

    calibration = calibrate(scorer, save=False)
    out = tmp_path / "r.csv"
    score_to_file(open_input(str(root)), scorer, calibration, out, progress=False)
    with open(out, newline="") as handle:
        rows = {os.path.basename(r["path"]): r for r in csv.DictReader(handle)}
    assert len(rows) == 11
    for name in valid:
        assert rows[name]["error"] == "" and float(rows[name]["score"]) >= 0, name
    assert rows["zero.png"]["error"].startswith("empty file")
    assert "not a recognised image" in rows["text.png"]["error"]
    assert "not a recognised image" in rows["random.jpg"]["error"]
    assert "truncated" in rows["truncated.png"]["error"] or "corrupt" in rows["truncated.png"]["error"]
    assert "too large" in rows["huge_header.png"]["error"]


# --- arrays -------------------------------------------------------------------------------------

@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([np.uint8, np.int16, np.int64, np.float32, np.float64, np.bool_, np.complex64]),
    st.sampled_from([(2, 28, 28), (2, 28, 28, 1), (2, 784), (2, 28, 27), (28, 28), (2, 28, 28, 3)]),
    st.sampled_from([0.0, 1.0, 255.0, 300.0, -5.0, np.nan, np.inf]),
)
def test_any_array_is_either_accepted_as_uint8_or_refused_with_a_reason(dtype, shape, fill):
    with np.errstate(invalid="ignore"):
        array = np.full(shape, fill).astype(dtype) if not (np.isnan(fill) or np.isinf(fill)) or np.issubdtype(dtype, np.floating) else np.zeros(shape, dtype)
    try:
        images = validate_images(array)
    except AnoganError as exc:
        assert any(word in str(exc) for word in ("shape", "dtype", "NaN", "span"))
    else:
        assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)


# --- interruption -------------------------------------------------------------------------------

def _anogan(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "anogan", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, **kwargs)


def _wait_for(condition, timeout=240):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_epoch", [0, 1])
def test_kill_9_during_training_then_resume_gives_a_complete_bundle(tmp_path, shapes_npz, kill_after_epoch):
    run = tmp_path / "run"
    command = ["train", "--dataset", "mnist", "--data", shapes_npz, "--normal", "0", "--epochs", "4",
               "--batch-size", "8", "--out", str(run)]
    process = _anogan(*command)
    pointer = run / "checkpoints" / "latest.json"
    if kill_after_epoch:
        _wait_for(lambda: pointer.is_file() and json.loads(pointer.read_text())["epoch"] >= kill_after_epoch)
    else:
        _wait_for(lambda: (run / "run.json").is_file())
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run / "bundle.json").exists()
    done = json.loads(pointer.read_text())["epoch"] if pointer.is_file() else 0
    assert done < 4
    resumed = _anogan(*command, "--resume")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read().decode()
    bundle = load_bundle(run)
    with open(run / "history.csv") as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == [1, 2, 3, 4]
    assert bundle.metadata["training"]["epochs"] == 4
    assert not list(run.rglob("*.tmp*")), "no temporary file may be left behind"


@pytest.mark.slow
def test_kill_9_during_scoring_then_resume_gives_one_row_per_input(tmp_path, scoring_bundle, shapes_dataset):
    model = tmp_path / "model"
    shutil.copytree(scoring_bundle.path, model)
    inputs = tmp_path / "x.npz"
    np.savez(inputs, x=shapes_dataset.x_test, y=shapes_dataset.y_test)
    out = tmp_path / "r.csv"
    command = ["score", str(inputs), "--model", str(model), "--method", "anogan", "--steps", "150",
               "--score-batch-size", "4", "--out", str(out)]
    process = _anogan(*command)
    _wait_for(lambda: out.is_file() and out.read_text().count("\n") > 6)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = out.read_text().count("\n") - 1
    assert 0 < partial < 60
    resumed = _anogan(*command, "--resume")
    assert resumed.wait(timeout=900) == 0, resumed.stderr.read().decode()
    with open(out, newline="") as handle:
        indices = [int(r["index"]) for r in csv.DictReader(handle)]
    assert sorted(indices) == list(range(60))
    load_bundle(model)  # calibration written during the killed run left a loadable bundle


# --- safe loading ------------------------------------------------------------------------------

def test_a_bundle_with_a_lambda_layer_is_refused(tmp_path, trained_run):
    import keras

    bundle = tmp_path / "bundle"
    shutil.copytree(trained_run.path, bundle)
    evil = keras.Sequential([keras.Input((100,)), keras.layers.Lambda(lambda z: z * 2)])
    evil.save(bundle / "generator.keras")
    metadata = json.loads((bundle / "bundle.json").read_text())
    metadata["files"]["generator.keras"] = sha256_file(bundle / "generator.keras")
    (bundle / "bundle.json").write_text(json.dumps(metadata))
    with pytest.raises(AnoganError, match="cannot load model"):
        load_bundle(bundle)


@pytest.mark.parametrize("filename, reader", [("validation.npz", "validation_images"),
                                              ("reference.npz", "reference_images")])
def test_a_tampered_image_file_is_refused(tmp_path, trained_run, filename, reader):
    bundle = tmp_path / "bundle"
    shutil.copytree(trained_run.path, bundle)
    np.savez(bundle / filename, x=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(AnoganError, match="do not match the hash"):
        getattr(load_bundle(bundle), reader)()


def test_paths_outside_the_runs_directory_are_refused(tmp_path):
    root = tmp_path / "runs"
    (root / "a").mkdir(parents=True)
    (tmp_path / "secret.txt").write_text("x")
    os.symlink(tmp_path / "secret.txt", root / "a" / "link.txt")
    assert resolve_under(root, "a") == (root / "a").resolve()
    for candidate in ("../secret.txt", str(tmp_path / "secret.txt"), "a/../../secret.txt", "a/link.txt"):
        with pytest.raises(AnoganError, match="outside the runs directory"):
            resolve_under(root, candidate)


# --- determinism ---------------------------------------------------------------------------------

def test_same_bundle_and_images_give_identical_scores(scoring_bundle, shapes_dataset):
    settings_ = ScoringSettings(steps=10, hybrid_steps=5)
    for method in ("anogan", "encoder", "hybrid"):
        first = Scorer(scoring_bundle, method, settings_).score(shapes_dataset.x_test[:10]).score
        second = Scorer(scoring_bundle, method, settings_).score(shapes_dataset.x_test[:10]).score
        np.testing.assert_array_equal(first, second)
