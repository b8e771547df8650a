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
    "Bundle": "artifacts", "load_bundle": "artifacts",
    "Dataset": "data", "OneClassSplit": "data", "load_dataset": "data", "one_class_split": "data",
    "Detector": "detector",
    "AnoganError": "errors", "ImageError": "errors",
    "read_image": "images",
    "evaluate": "evaluation",
    "Scorer": "scoring", "ScoringSettings": "scoring",
    "calibrate": "thresholds",
    "TrainConfig": "training", "train": "training", "train_encoder": "training",
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
