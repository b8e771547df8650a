"""The scorer: one method of one bundle, built once, called for every batch."""

from __future__ import annotations

from typing import Optional

import numpy as np

from anogan.data.datasets import to_model_range
from anogan.errors import AnoganError
from anogan.scoring.batch import ScoreBatch
from anogan.scoring.domain import DomainCheck
from anogan.scoring.methods import get_method
from anogan.scoring.settings import ScoringSettings
from anogan.scoring.terms import InversionTerms


class Scorer:
    """Scores images with one method of one bundle.

    Build it once and call :meth:`score` for every batch: the method's
    compiled functions and heavy state (latent bank, reference features)
    are created here, not per call. With ``standardize``, the terms'
    statistics are fitted on ``fit_images`` (default: the bundle's normal
    validation images). ``state`` is what :meth:`state` of another scorer
    of the same bundle, method and settings returned (e.g. the driver's, on
    a Ray worker): it is taken instead of being rebuilt.

    Example:
        >>> scorer = Scorer(load_bundle("runs/demo"), "encoder")  # doctest: +SKIP
        >>> scorer.score(images).score.shape  # doctest: +SKIP
        (16,)
    """

    def __init__(self, bundle, method: str, settings: Optional[ScoringSettings] = None,
                 fit_images: Optional[np.ndarray] = None, state: Optional[dict] = None):
        from anogan.gan.networks import make_feature_extractor

        method_class = get_method(method)
        self.settings = settings or ScoringSettings()
        _check_bundle(bundle, method_class, self.settings)
        self.bundle = bundle
        self.method = method
        self.domain = DomainCheck.fit(bundle.reference_images() if bundle.has_reference()
                                      else bundle.validation_images())
        self.latent_dim = bundle.latent_dim
        self.strategy = method_class(bundle, self.settings, make_feature_extractor(bundle.discriminator),
                                     fit_images=fit_images, state=state)

    @property
    def term_stats(self) -> Optional[dict]:
        """The score terms' mean and standard deviation on normal images (standardised inversion scores only)."""
        return getattr(self.strategy, "term_stats", None)

    @property
    def chunk_size(self) -> int:
        """Images per call in a batch job (speed only, never the scores)."""
        return self.strategy.chunk_size(self.settings)

    def state(self) -> dict:
        """The heavy state of this scorer, to build the same scorer elsewhere without rebuilding it."""
        return self.strategy.state()

    def traces(self) -> int:
        """How often this scorer's compiled function was traced: 1 once it has scored, whatever the batch sizes."""
        return self.strategy.compiled.experimental_get_tracing_count()

    def score(self, images: np.ndarray) -> ScoreBatch:
        """Score ``uint8`` images ``(N, 28, 28)``; see :class:`~anogan.scoring.batch.ScoreBatch`."""
        images = np.asarray(images)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise AnoganError(f"expected uint8 images of shape (N, 28, 28), got {images.dtype} {images.shape}")
        if len(images) == 0:
            empty = np.zeros((0,), np.float32)
            maps = np.zeros((0, 28, 28), np.float32)
            batch = ScoreBatch(empty, empty, empty, maps, maps, np.zeros((0, self.latent_dim), np.float32))
        else:
            batch = self.strategy.score(images, to_model_range(images))
        batch.reason = self.domain.reasons(images)
        return batch

    def invert(self, images: np.ndarray) -> InversionTerms:
        """The latent inversion of ``uint8`` images ``(N, 28, 28)`` (the methods that search z only).

        :meth:`score` combines these terms; the dev benchmark reuses one
        inversion for every way of combining them.
        """
        if not self.strategy.inverts:
            raise AnoganError(f"the {self.method} method does not invert the generator")
        return self.strategy.invert(images)


def _check_bundle(bundle, method_class, settings: ScoringSettings) -> None:
    """Refuse a bundle that lacks what the method needs, saying how to get it."""
    if method_class.needs_reference(settings) and not bundle.has_reference():
        raise AnoganError(
            f"the {method_class.name} method with these settings needs the normal training images in the bundle; "
            f"{bundle.path} was saved without them "
            "(retrain it, or score it through 'anogan score', which adds them from the training data)"
        )
    if method_class.needs_encoder and bundle.encoder is None:
        raise AnoganError(
            f"the {method_class.name} method needs an encoder; train one with "
            f"'anogan train-encoder --model {bundle.path}'"
        )
