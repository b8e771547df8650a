"""anogan: GAN-based anomaly detection for images.

A DCGAN learns the normal images; anomalies are the images it cannot
reproduce, found by AnoGAN latent inversion or an f-AnoGAN encoder.

Example:
    >>> import anogan
    >>> bundle = anogan.train("mnist-5k", normal=[0], epochs=1, out="runs/demo")  # doctest: +SKIP
    >>> bundle = anogan.load_bundle("runs/demo")  # doctest: +SKIP
"""

import os

# TensorFlow's C++ start-up log lines hide our own messages; failures still raise.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from anogan.artifacts import Bundle, load_bundle  # noqa: E402
from anogan.data import Dataset, OneClassSplit, load_dataset, one_class_split  # noqa: E402
from anogan.detector import Detector  # noqa: E402
from anogan.errors import AnoganError, ImageError  # noqa: E402
from anogan.images import read_image  # noqa: E402
from anogan.evaluation import evaluate  # noqa: E402
from anogan.scoring import Scorer, ScoringSettings  # noqa: E402
from anogan.thresholds import calibrate  # noqa: E402
from anogan.training import TrainConfig, train, train_encoder  # noqa: E402

__all__ = [
    "AnoganError",
    "Bundle",
    "Dataset",
    "Detector",
    "Scorer",
    "ScoringSettings",
    "TrainConfig",
    "calibrate",
    "evaluate",
    "ImageError",
    "OneClassSplit",
    "load_bundle",
    "load_dataset",
    "one_class_split",
    "read_image",
    "train",
    "train_encoder",
]
