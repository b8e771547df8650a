"""The score half of latent inversion: how an inversion's terms become one anomaly score.

A search (:mod:`anogan.scoring.inversion`) finds z for each image and
reports every term it can (:class:`InversionTerms`); a
:class:`TermCombination` weighs the ones the settings name. Candidates that
differ only in how they combine terms can therefore share one inversion.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional

import numpy as np

from anogan.errors import AnoganError
from anogan.scoring.batch import ScoreBatch

STANDARDIZED_TERMS = ("residual_l1", "residual_ink", "residual_multiscale", "residual_aligned", "feature_l1",
                      "feature_cosine", "critic", "complexity")
# the term each ``residual`` setting names
RESIDUAL_TERMS = {"l1": "residual_l1", "ink": "residual_ink", "multiscale": "residual_multiscale",
                  "aligned": "residual_aligned"}


@dataclass
class InversionTerms:
    """What a latent inversion found for a batch of images, before its terms are combined into a score.

    Attributes:
        residual_l1: Σ|x - G(z)| (AnoGAN's residual loss).
        residual_ink: Σ|x - G(z)| over the ink of x and G(z) (pixels mapped
            to [0, 1]): the share of the ink that does not match, in [0, 1].
        residual_multiscale: the same measured on pixels, 2×2 and 4×4 blocks
            of summed ink, averaged (ink moved within a block is forgiven at
            that scale), in [0, 1].
        residual_aligned: ``residual_ink`` after the shift of G(z) by at
            most one pixel that fits x best, in [0, 1].
        feature_l1: Σ|f(x) - f(G(z))| (AnoGAN's discrimination loss).
        feature_cosine: 1 - cos(f(x), f(G(z))).
        critic: -D(x), the discriminator's logit for x negated (does not
            depend on z).
        complexity: the total variation of x's ink (Σ|difference| of
            neighbouring pixels mapped to [0, 1]): how much edge and texture
            x has (does not depend on z).
        loss: the inversion's own objective at the last step,
            (1 - λ)·residual_l1 + λ·feature_l1.
        reconstruction: G(z) in [-1, 1], ``(N, 28, 28)``.
        anomaly_map: |x - G(z)|, ``(N, 28, 28)``.
        z: the latent codes found.
    """

    residual_l1: np.ndarray
    residual_ink: np.ndarray
    residual_multiscale: np.ndarray
    residual_aligned: np.ndarray
    feature_l1: np.ndarray
    feature_cosine: np.ndarray
    critic: np.ndarray
    complexity: np.ndarray
    loss: np.ndarray
    reconstruction: np.ndarray
    anomaly_map: np.ndarray
    z: np.ndarray

    def take(self, better: np.ndarray, other: "InversionTerms") -> None:
        """Replace this batch's entries where ``better`` is true by ``other``'s."""
        for f in fields(InversionTerms):
            getattr(self, f.name)[better] = getattr(other, f.name)[better]

    @staticmethod
    def concatenate(parts: list["InversionTerms"]) -> "InversionTerms":
        return InversionTerms(**{
            f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(InversionTerms)
        })


def fit_term_stats(normal_terms: InversionTerms) -> dict:
    """Mean, standard deviation and largest value of each term on normal images (for ``standardize``)."""
    stats = {}
    for name in STANDARDIZED_TERMS:
        values = np.asarray(getattr(normal_terms, name), dtype=np.float64)
        if len(values) < 2:
            raise AnoganError("standardising the score terms needs at least two normal validation images")
        stats[name] = (float(values.mean()), float(max(values.std(), 1e-12)), float(values.max()))
    return stats


@dataclass(frozen=True)
class TermCombination:
    """The inversion score (1 - λ)·residual + λ·discrimination (+ μ·critic - ν·complexity), from the terms the
    settings name.

    With ``standardize`` each term is first standardised with the mean and
    standard deviation it has on normal validation images (:meth:`fit`), as
    f-AnoGAN does, so that λ weighs comparable quantities. Subtracting ν times
    the standardised complexity of x is a complexity baseline (after Serrà et
    al. 2020): a textured image is expected to reconstruct worse, a plain one
    better, whichever class it belongs to. The complexity is capped at the
    largest one among those normal images, so that nothing more complex than
    any normal (noise) is excused beyond what that normal would be. The reported
    ``residual_score`` and ``discrimination_score`` are the raw terms.

    Example:
        >>> TermCombination.from_settings(ScoringSettings(lam=0.7)).lam  # doctest: +SKIP
        0.7
    """

    lam: float
    residual: str = "l1"
    feature_distance: str = "l1"
    standardize: bool = False
    critic_weight: float = 0.0
    complexity_weight: float = 0.0

    @classmethod
    def from_settings(cls, settings) -> "TermCombination":
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    @property
    def residual_term(self) -> str:
        return RESIDUAL_TERMS[self.residual]

    @property
    def feature_term(self) -> str:
        return "feature_cosine" if self.feature_distance == "cosine" else "feature_l1"

    def fit(self, normal_terms: InversionTerms) -> Optional[dict]:
        """The term statistics this combination needs from normal images (``None``: nothing is standardised)."""
        return fit_term_stats(normal_terms) if self.standardize else None

    def combine(self, terms: InversionTerms, stats: Optional[dict] = None) -> ScoreBatch:
        residual, feature = getattr(terms, self.residual_term), getattr(terms, self.feature_term)
        score = (1.0 - self.lam) * residual + self.lam * feature
        if self.standardize:
            if stats is None:
                raise AnoganError("standardised scores need the term statistics of normal validation images")

            def standardized(name):
                return (getattr(terms, name) - stats[name][0]) / stats[name][1]

            score = (1.0 - self.lam) * standardized(self.residual_term) + self.lam * standardized(self.feature_term)
            if self.critic_weight:
                score = score + self.critic_weight * standardized("critic")
            if self.complexity_weight:
                mean, std, largest = stats["complexity"]
                capped = np.minimum(terms.complexity, largest)
                score = score - self.complexity_weight * (capped - mean) / std
        return ScoreBatch(
            score=score.astype(np.float32),
            residual_score=residual,
            discrimination_score=feature,
            reconstruction=terms.reconstruction,
            anomaly_map=terms.anomaly_map,
            z=terms.z,
        )
