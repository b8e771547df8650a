"""k nearest normal neighbours in the discriminator's feature space (``feature-knn``; not in the papers).

The score is the mean cosine distance between f(x) and its k nearest
neighbours among the features of the normal training images stored with
the bundle (k = ``neighbours``, 5). Cosine rather than Euclidean because
the feature magnitude grows with the amount of ink, which is what makes
pixel residuals favour thin digits. ``residual_score`` is the mean
|x - nearest normal image|, reported for reading, not part of the score.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from anogan.data.datasets import to_model_range
from anogan.scoring.batch import ScoreBatch
from anogan.scoring.methods.base import ScoringMethod, register
from anogan.scoring.neighbours import NearestFeatures


@register
class FeatureKnnMethod(ScoringMethod):
    name = "feature-knn"
    summary = "distance to the nearest normal training images in the discriminator's feature space (fast)"
    settings_keys = ("neighbours",)
    speed_rank = 1
    reference_symbol = "nearest"
    reference_caption = "nearest normal image"

    def __init__(self, bundle, settings, features, fit_images: Optional[np.ndarray] = None,
                 state: Optional[dict] = None):
        super().__init__(bundle, settings, features)
        self.nearest = NearestFeatures(features, to_model_range(bundle.reference_images()), settings.neighbours)

    @classmethod
    def needs_reference(cls, settings) -> bool:
        return True

    @property
    def compiled(self):
        return self.nearest.compiled_query

    def score(self, images: np.ndarray, x: np.ndarray) -> ScoreBatch:
        parts = []
        for start in range(0, len(x), 256):
            chunk = x[start : start + 256]
            distance, index = self.nearest.query(chunk)
            nearest = self.nearest.reference[index][..., 0]
            difference = np.abs(chunk[..., 0] - nearest)
            parts.append(ScoreBatch(
                score=distance,
                residual_score=difference.mean(axis=(1, 2)),
                discrimination_score=distance,
                reconstruction=nearest,
                anomaly_map=difference,
                z=np.full((len(chunk), self.bundle.latent_dim), np.nan, np.float32),
            ))
        return ScoreBatch.concatenate(parts)
