"""A scikit-learn / PyOD style estimator over the whole pipeline."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
from sklearn.base import BaseEstimator

from anogan.data.datasets import validate_images
from anogan.data.protocol import OneClassSplit, holdout_split
from anogan.errors import AnoganError
from anogan.scoring.methods import check_methods
from anogan.scoring.recipes import DEFAULT_RECIPE, get_recipe
from anogan.scoring.settings import ScoringSettings


class Detector(BaseEstimator):
    """GAN anomaly detector with the scikit-learn / PyOD contract: ``fit``, ``decision_function``, ``predict``.

    ``fit`` trains the DCGAN on normal images only with a recipe
    (:mod:`anogan.scoring.recipes`; default ``recommended``), holds out
    ``val_fraction`` of them and sets the threshold on those.
    ``decision_function`` gives *anomaly* scores as in PyOD (higher = more
    anomalous); ``score_samples`` follows scikit-learn (higher = more normal)
    and is its negative; ``predict`` also flags inputs that are not images of
    the trained kind at all (blank, constant, saturated: :mod:`anogan.scoring.domain`).
    Parameters can be read and set with ``get_params``/``set_params``, so
    ``sklearn.base.clone`` works.

    With the recommended recipe, ``fit`` on a few hundred images trains the
    recipe's 1,500 steps: about 3 minutes on 2 fast CPU cores, up to 15 on a
    slow 2 GHz one (``epochs=`` trains fewer), with a progress bar per epoch
    (``verbose=False`` hides it).

    Args:
        recipe: the recipe to train and score with.
        method: a scoring method instead of the recipe's (``encoder``,
            ``feature-knn``, ``hybrid``, ``anogan``).
        epochs, batch_size, encoder_epochs, val_fraction: replace the recipe's
            (named epochs are trained as they are, without the recipe's step floor).
        false_positive_rate: share of normal images the threshold may flag
            (a split-conformal threshold on the held-out normal images).
        settings: :class:`~anogan.scoring.settings.ScoringSettings` instead of the recipe's.
        seed: seed of everything random.
        out: folder for the bundle, kept after the detector; ``None`` trains
            in a temporary folder that is removed with the detector.
        verbose: show training progress.

    Attributes:
        bundle_: the trained :class:`~anogan.gan.bundle.Bundle`.
        threshold_: the anomaly threshold on ``decision_function``.
        calibration_: the full :class:`~anogan.scoring.calibration.Calibration`.

    Example:
        >>> from anogan.data.datasets import load_dataset
        >>> ds = load_dataset("mnist-5k")
        >>> detector = Detector(out="runs/detector-0").fit(ds.x_train[ds.y_train == 0])  # doctest: +SKIP
        >>> detector.predict(ds.x_test[:5])  # doctest: +SKIP
        array([0, 0, 0, 0, 0])
    """

    def __init__(
        self,
        recipe: str = DEFAULT_RECIPE,
        method: Optional[str] = None,
        epochs: Optional[int] = None,
        batch_size: Optional[int] = None,
        encoder_epochs: Optional[int] = None,
        val_fraction: Optional[float] = None,
        false_positive_rate: float = 0.01,
        settings: Optional[ScoringSettings] = None,
        seed: int = 0,
        out: Optional[str] = None,
        verbose: bool = True,
    ):
        self.recipe = recipe
        self.method = method
        self.epochs = epochs
        self.batch_size = batch_size
        self.encoder_epochs = encoder_epochs
        self.val_fraction = val_fraction
        self.false_positive_rate = false_positive_rate
        self.settings = settings
        self.seed = seed
        self.out = out
        self.verbose = verbose

    def fit(self, x, y=None) -> "Detector":
        """Train on normal images ``x`` (``uint8`` or [0, 1] floats, ``(N, 28, 28)``); ``y`` is ignored."""
        from anogan.experiments.pipeline import ensure_bundle
        from anogan.scoring.calibration import calibrate
        from anogan.scoring.scorer import Scorer

        recipe = get_recipe(self.recipe)
        method = check_methods(self.method or recipe.method)[0]
        images = validate_images(x, "x")
        if len(images) < 2:
            raise AnoganError("fit needs at least two normal images")
        config = recipe.train_config("array", ("normal",), seed=self.seed, epochs=self.epochs,
                                     batch_size=self.batch_size, val_fraction=self.val_fraction)
        train_index, val_index = holdout_split(len(images), config.val_fraction, self.seed)
        split = OneClassSplit(("normal",), (0,), images[train_index], images[val_index],
                              np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), train_index, val_index)
        if self.out:
            out = Path(self.out)
        else:  # removed when the detector is: the scorer keeps what it needs in memory
            self._workdir = tempfile.TemporaryDirectory(prefix="anogan-")
            out = Path(self._workdir.name) / "bundle"
        bundle = ensure_bundle(config, out, [method], self.encoder_epochs or recipe.training.encoder_epochs,
                               split=split, progress=self.verbose)
        self.scorer_ = Scorer(bundle, method, self.settings or recipe.settings_for(method))
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
        """1 for an anomaly (score above ``threshold_``, or not an image of the trained kind), 0 for normal."""
        self._check_fitted()
        return self.calibration_.verdict(self.scorer_.score(validate_images(x, "x"))).astype(int)
