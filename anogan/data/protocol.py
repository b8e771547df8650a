"""The one-class protocol: which images a model may train on, and where choices are made.

The one-class split keeps only normal images for training (minus a held-out
normal validation split, used for thresholds) and every class of the test
split. The dev split (:func:`dev_split`) holds out normal training images
against other classes' training images, never trained on: every setting,
epoch count and recipe is chosen there, never on the test split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from anogan.data.datasets import Dataset, load_dataset
from anogan.errors import AnoganError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OneClassSplit:
    """The one-class protocol's three splits.

    Attributes:
        x_train: normal training images only.
        x_val: held-out normal training images, for calibration.
        x_test, y_test: every test image and its class index.
        is_anomaly_test: ``True`` where the test image's class is not normal.
        train_index, val_index: positions of ``x_train`` and ``x_val`` in the
            dataset's training split.
    """

    class_names: tuple[str, ...]
    normal_classes: tuple[int, ...]
    x_train: np.ndarray
    x_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    train_index: np.ndarray
    val_index: np.ndarray

    @property
    def is_anomaly_test(self) -> np.ndarray:
        return ~np.isin(self.y_test, self.normal_classes)


def resolve_classes(class_names: Sequence[str], requested: Iterable[str | int]) -> tuple[int, ...]:
    """Map class names or indices (``"0"``, ``3``, ``"Trouser"``) to sorted indices."""
    lowered = [c.lower() for c in class_names]
    resolved = set()
    for item in requested:
        text = str(item).strip()
        if text.lower() in lowered:
            resolved.add(lowered.index(text.lower()))
        elif text.isdigit() and int(text) < len(class_names):
            resolved.add(int(text))
        else:
            raise AnoganError(
                f"unknown class {text!r}; known classes: {', '.join(class_names)}"
            )
    if not resolved:
        raise AnoganError("no normal class given; pass at least one --normal CLASS")
    return tuple(sorted(resolved))


def holdout_split(n: int, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sorted positions (train, validation) of ``n`` items, a seeded ``val_fraction`` held out.

    With a fraction above 0 and at least two items, both parts get at least one.

    Example:
        >>> [len(part) for part in holdout_split(10, 0.25)]
        [8, 2]
    """
    if not 0.0 <= val_fraction < 1.0:
        raise AnoganError(f"validation fraction must be in [0, 1), got {val_fraction}")
    shuffled = np.random.default_rng(seed).permutation(n)
    n_val = int(round(val_fraction * n))
    if val_fraction > 0 and n >= 2:
        n_val = max(1, min(n_val, n - 1))
    return np.sort(shuffled[n_val:]), np.sort(shuffled[:n_val])


def one_class_split(
    dataset: Dataset,
    normal: Iterable[str | int],
    val_fraction: float = 0.1,
    seed: int = 0,
) -> OneClassSplit:
    """Apply the one-class protocol.

    Training keeps only images of the normal classes; a seeded
    ``val_fraction`` of them is held out as normal validation data; the test
    split keeps every image with its class.

    Example:
        >>> split = one_class_split(load_dataset("mnist-5k"), normal=[0])
        >>> split.x_train.shape, split.x_val.shape
        ((360, 28, 28), (40, 28, 28))
    """
    normal_classes = resolve_classes(dataset.class_names, normal)
    normal_idx = np.flatnonzero(np.isin(dataset.y_train, normal_classes))
    names = ", ".join(dataset.class_names[c] for c in normal_classes)
    if len(normal_idx) == 0:
        raise AnoganError(f"no training images of the normal classes ({names}) in {dataset.name}")
    train_pos, val_pos = holdout_split(len(normal_idx), val_fraction, seed)
    train_idx, val_idx = normal_idx[train_pos], normal_idx[val_pos]
    return OneClassSplit(
        class_names=dataset.class_names,
        normal_classes=normal_classes,
        x_train=dataset.x_train[train_idx],
        x_val=dataset.x_train[val_idx],
        x_test=dataset.x_test,
        y_test=dataset.y_test,
        train_index=train_idx,
        val_index=val_idx,
    )


def validation_seed_of(metadata: dict) -> int:
    """The seed of the validation split a bundle was trained with (its ``split_seed``, else its ``seed``)."""
    training = metadata.get("training", {})
    split_seed = training.get("split_seed")
    return int(split_seed) if split_seed is not None else int(training.get("seed", metadata.get("seed", 0)))


def normal_training_images(metadata: dict) -> np.ndarray:
    """Reload the normal training images a bundle was trained on, from its ``bundle.json`` metadata."""
    dataset = metadata.get("dataset", {})
    if dataset.get("name") in (None, "array"):
        raise AnoganError("this bundle was trained on in-memory arrays; pass the training images explicitly")
    split = one_class_split(
        load_dataset(dataset["name"], dataset.get("data")),
        [str(c) for c in metadata["normal_classes"]],
        float(dataset.get("val_fraction", 0.1)),
        validation_seed_of(metadata),
    )
    return split.x_train


DEV_ANOMALIES = 1000


@dataclass(frozen=True)
class DevSplit:
    """The development split: labelled data carved from the *training* split only.

    Model choices are made here, never on the test split. The normal
    validation images of :func:`one_class_split` (never trained on) are
    halved: ``x_fit`` is what a candidate may fit anything on (thresholds,
    score standardisation) and ``x_normal`` is what its AUROC is measured on.
    The anomalies are a fixed seeded sample of the other classes' training
    images, which a one-class model never trains on.

    Attributes:
        x_fit, x_normal: the two disjoint halves of the normal validation images.
        x_anomaly, y_anomaly: the anomalies and their classes.
        fit_index, normal_index, anomaly_index: their positions in the
            dataset's training split.
    """

    x_fit: np.ndarray
    x_normal: np.ndarray
    x_anomaly: np.ndarray
    y_anomaly: np.ndarray
    fit_index: np.ndarray
    normal_index: np.ndarray
    anomaly_index: np.ndarray


def dev_split(
    dataset: Dataset,
    normal: Iterable[str | int],
    val_fraction: float = 0.1,
    seed: int = 0,
    n_anomalies: int = DEV_ANOMALIES,
) -> DevSplit:
    """The development split of the model trained with the same ``normal``, ``val_fraction`` and ``seed``.

    Example:
        >>> dev = dev_split(load_dataset("mnist-5k"), normal=[0], n_anomalies=500)
        >>> len(dev.x_fit), len(dev.x_normal), len(dev.x_anomaly)
        (20, 20, 500)
    """
    split = one_class_split(dataset, normal, val_fraction, seed)
    if len(split.val_index) < 2:
        raise AnoganError("the dev split needs at least two normal validation images; raise --val-fraction")
    halves = np.random.default_rng([seed, 1]).permutation(split.val_index)
    fit_index, normal_index = np.sort(halves[: len(halves) // 2]), np.sort(halves[len(halves) // 2 :])
    others = np.flatnonzero(~np.isin(dataset.y_train, split.normal_classes))
    if len(others) == 0:
        raise AnoganError("the dev split needs training images of at least one class that is not normal")
    take = min(int(n_anomalies), len(others))
    anomaly_index = np.sort(np.random.default_rng([seed, 2]).choice(others, size=take, replace=False))
    return DevSplit(
        x_fit=dataset.x_train[fit_index],
        x_normal=dataset.x_train[normal_index],
        x_anomaly=dataset.x_train[anomaly_index],
        y_anomaly=dataset.y_train[anomaly_index],
        fit_index=fit_index,
        normal_index=normal_index,
        anomaly_index=anomaly_index,
    )
