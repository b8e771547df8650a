"""anogan: GAN-based anomaly detection for images.

A DCGAN learns the normal images; anomalies are the images it cannot
reproduce, found by AnoGAN latent inversion or an f-AnoGAN encoder.

Example:
    >>> import anogan
    >>> bundle = anogan.train(anogan.TrainConfig("mnist-5k", normal=[0], epochs=1), "runs/demo")  # doctest: +SKIP
    >>> bundle = anogan.load_bundle("runs/demo")  # doctest: +SKIP
"""

import os

# TensorFlow's C++ start-up log lines hide our own messages; failures still raise.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Names are imported on first use (PEP 562), so `import anogan` and `anogan --help` stay instant
# and TensorFlow loads only when a model is needed.
_EXPORTS = {
    "Bundle": "gan.bundle", "load_bundle": "gan.bundle",
    "Dataset": "data.datasets", "load_dataset": "data.datasets",
    "OneClassSplit": "data.protocol", "one_class_split": "data.protocol",
    "Detector": "detector",
    "AnoganError": "errors", "ImageError": "errors",
    "read_image": "data.images",
    "evaluate": "experiments.evaluation",
    "Scorer": "scoring.scorer", "ScoringSettings": "scoring.settings",
    "calibrate": "scoring.calibration",
    "TrainConfig": "gan.training", "train": "gan.training", "train_encoder": "scoring.encoder_training",
}


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'anogan' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"anogan.{_EXPORTS[name]}"), name)


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
