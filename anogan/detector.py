"""A scikit-learn / PyOD style estimator over the whole pipeline."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

from sklearn.base import BaseEstimator

from anogan.data import OneClassSplit, holdout_split, validate_images
from anogan.errors import AnoganError
from anogan.scoring import DEFAULT_METHOD, ScoringSettings, check_methods


class Detector(BaseEstimator):
    """GAN anomaly detector with the scikit-learn / PyOD contract: ``fit``, ``decision_function``, ``predict``.

    ``fit`` trains the DCGAN (and, for ``encoder``/``hybrid``, the encoder) on
    normal images only, holds out ``val_fraction`` of them and sets the
    threshold on those. ``decision_function`` gives *anomaly* scores as in
    PyOD (higher = more anomalous); ``score_samples`` follows scikit-learn
    (higher = more normal) and is its negative. Parameters can be read and
    set with ``get_params``/``set_params``, so ``sklearn.base.clone`` works.

    Args:
        method: ``encoder`` or ``feature-knn`` (fast), ``hybrid`` or ``anogan`` (slow, per-image inversion).
        epochs, batch_size: GAN training.
        encoder_epochs: encoder training.
        val_fraction: share of the normal images held out for the threshold.
        false_positive_rate: share of normal images the threshold may flag
            (a split-conformal threshold on the held-out normal images).
        settings: :class:`~anogan.scoring.ScoringSettings`.
        seed: seed of everything random.
        out: folder for the bundle (a temporary folder if ``None``).

    Attributes:
        bundle_: the trained :class:`~anogan.artifacts.Bundle`.
        threshold_: the anomaly threshold on ``decision_function``.
        calibration_: the full :class:`~anogan.thresholds.Calibration`.

    Example:
        >>> from anogan.data import load_dataset
        >>> ds = load_dataset("mnist-5k")
        >>> detector = Detector().fit(ds.x_train[ds.y_train == 0])  # doctest: +SKIP
        >>> detector.predict(ds.x_test[:5])  # doctest: +SKIP
        array([0, 0, 0, 0, 0])
    """

    def __init__(
        self,
        method: str = DEFAULT_METHOD,
        epochs: int = 200,
        batch_size: int = 32,
        encoder_epochs: int = 30,
        val_fraction: float = 0.1,
        false_positive_rate: float = 0.01,
        settings: Optional[ScoringSettings] = None,
        seed: int = 0,
        out: Optional[str] = None,
    ):
        self.method = method
        self.epochs = epochs
        self.batch_size = batch_size
        self.encoder_epochs = encoder_epochs
        self.val_fraction = val_fraction
        self.false_positive_rate = false_positive_rate
        self.settings = settings
        self.seed = seed
        self.out = out

    def fit(self, x, y=None) -> "Detector":
        """Train on normal images ``x`` (``uint8`` or [0, 1] floats, ``(N, 28, 28)``); ``y`` is ignored."""
        from anogan.pipeline import ensure_bundle
        from anogan.scoring import Scorer
        from anogan.thresholds import calibrate
        from anogan.training import TrainConfig

        check_methods(self.method)
        images = validate_images(x, "x")
        if len(images) < 2:
            raise AnoganError("fit needs at least two normal images")
        train_index, val_index = holdout_split(len(images), self.val_fraction, self.seed)
        split = OneClassSplit(("normal",), (0,), images[train_index], images[val_index],
                              np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), train_index, val_index)
        out = Path(self.out) if self.out else Path(tempfile.mkdtemp(prefix="anogan-"))
        config = TrainConfig(dataset="array", normal=("normal",), epochs=self.epochs, batch_size=self.batch_size,
                             seed=self.seed, val_fraction=self.val_fraction)
        bundle = ensure_bundle(config, out, [self.method], self.encoder_epochs, split=split, progress=False)
        self.scorer_ = Scorer(bundle, self.method, self.settings or ScoringSettings())
        self.calibration_ = calibrate(self.scorer_, false_positive_rate=self.false_positive_rate)
        self.bundle_ = bundle
        self.threshold_ = self.calibration_.threshold
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "scorer_"):
            raise AnoganError("this Detector is not fitted yet; call fit(x) first")

    def decision_function(self, x) -> np.ndarray:
        """Anomaly scores, higher = more anomalous."""
        self._check_fitted()
        return self.scorer_.score(validate_images(x, "x")).score

    def score_samples(self, x) -> np.ndarray:
        """scikit-learn's normality scores, higher = more normal: ``-decision_function(x)``."""
        return -self.decision_function(x)

    def predict(self, x) -> np.ndarray:
        """1 for an anomaly (score above ``threshold_``), 0 for normal."""
        return (self.decision_function(x) > self.threshold_).astype(int)
