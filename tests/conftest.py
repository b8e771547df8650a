"""Shared fixtures: tiny synthetic datasets and one briefly trained run."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from anogan.data.datasets import Dataset


def make_shapes(n_per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tiny 28x28 images of three simple shapes: 0 = filled disc, 1 = horizontal bar, 2 = cross.

    Positions and sizes jitter a little so that no two images are identical.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:28, 0:28]
    images, labels = [], []
    for label in range(3):
        for _ in range(n_per_class):
            cy, cx = 14 + rng.integers(-2, 3, size=2)
            if label == 0:
                radius = rng.uniform(6, 8)
                mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
            elif label == 1:
                mask = (abs(yy - cy) <= 2) & (abs(xx - cx) <= 10)
            else:
                mask = ((abs(yy - cy) <= 1) | (abs(xx - cx) <= 1)) & (abs(yy - cy) <= 10) & (abs(xx - cx) <= 10)
            image = np.where(mask, 255, 0) + rng.integers(0, 20, size=(28, 28))
            images.append(np.clip(image, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


@pytest.fixture(scope="session")
def shapes_dataset() -> Dataset:
    x_train, y_train = make_shapes(60, seed=1)
    x_test, y_test = make_shapes(20, seed=2)
    return Dataset("shapes", ("disc", "bar", "cross"), x_train, y_train, x_test, y_test)


@pytest.fixture(scope="session")
def shapes_npz(tmp_path_factory, shapes_dataset) -> str:
    path = tmp_path_factory.mktemp("data") / "shapes.npz"
    np.savez(
        path,
        x_train=shapes_dataset.x_train, y_train=shapes_dataset.y_train,
        x_test=shapes_dataset.x_test, y_test=shapes_dataset.y_test,
    )
    return str(path)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, shapes_npz):
    """A bundle trained for two short epochs on the disc class (normal = 0)."""
    from anogan.gan.training import TrainConfig, train

    out = tmp_path_factory.mktemp("runs") / "shapes-0"
    bundle = train(TrainConfig("mnist", normal=[0], epochs=2, data=shapes_npz, batch_size=32, seed=0), out,
                   progress=False)
    return bundle


@pytest.fixture(scope="session")
def scoring_bundle(tmp_path_factory, shapes_npz):
    """A bundle trained long enough (about 700 small steps) to draw discs, with an encoder.

    Normal = disc (class 0); bars and crosses are anomalies.
    """
    from anogan.gan.training import TrainConfig, train
    from anogan.scoring.encoder_training import train_encoder

    out = tmp_path_factory.mktemp("runs") / "shapes-scoring"
    bundle = train(TrainConfig("mnist", normal=[0], epochs=120, data=shapes_npz, batch_size=8, seed=0), out,
                   progress=False)
    return train_encoder(bundle, epochs=20, batch_size=16, progress=False)


@pytest.fixture
def scoring_bundle_copy(tmp_path, scoring_bundle):
    """A private copy of the scoring bundle, for tests that write into their bundle."""
    import shutil

    from anogan.gan.bundle import load_bundle

    shutil.copytree(scoring_bundle.path, tmp_path / "bundle")
    return load_bundle(tmp_path / "bundle")


@pytest.fixture(scope="session")
def png_claiming_size():
    """Make a PNG whose header claims ``width`` x ``height`` pixels but holds almost no data (a bomb's shape)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    def make(width: int, height: int) -> bytes:
        header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10))
                + chunk(b"IEND", b""))

    return make


@pytest.fixture
def fast_settings():
    from anogan.scoring.settings import ScoringSettings

    return ScoringSettings(steps=40, hybrid_steps=10, batch_size=16)


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory, scoring_bundle, shapes_dataset):
    """A runs folder for the dashboard: a copy of the scoring bundle and an encoder results file with maps."""
    import shutil

    from anogan.data.inputs import open_input
    from anogan.engines.scoring_job import score_to_file
    from anogan.gan.bundle import load_bundle
    from anogan.scoring.calibration import calibrate
    from anogan.scoring.scorer import Scorer

    root = tmp_path_factory.mktemp("dashboard_runs")
    run = root / "shapes"
    shutil.copytree(scoring_bundle.path, run)
    bundle = load_bundle(run)
    scorer = Scorer(bundle, "encoder")
    calibration = calibrate(scorer)
    np.savez(root / "test.npz", x=shapes_dataset.x_test, y=shapes_dataset.y_test)
    score_to_file(open_input(str(root / "test.npz")), scorer, calibration, run / "results_encoder.csv",
                  maps_dir=run / "maps_encoder", progress=False)
    return root


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray for the whole test session (started on first use): two CPUs, no dashboard; shut down at the end."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()
