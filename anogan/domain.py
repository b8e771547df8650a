"""Inputs that are not images of the trained kind at all, flagged before any score is trusted.

A GAN scorer ranks images *like* its normal images; a frame with no content
can still sit close to what G draws (a near-blank frame is a thin stroke
away from a thin digit) and pass. :class:`DomainCheck` catches the frames no
normal image resembles, from simple pixel statistics of the bundle's own
normal images, so it holds for any dataset:

* a **constant** image: every pixel within :data:`CONSTANT_SPREAD` grey levels
  (unless normal images are like that too);
* a **near-blank** frame: less than half the ink of the least-inked normal
  images (ink: pixels at or above :data:`INK_LEVEL`, white on black as in
  the datasets);
* a **saturated** frame: more ink than the most-inked normal images, by at
  least half of what is left up to a white frame.

"The least and most inked" are the 0.1 % and 99.9 % quantiles of the normal
images, so one odd training image does not switch a rule off. A flagged
input keeps its score, gets its reason in the result row and is an anomaly
whatever its score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INK_LEVEL = 128
CONSTANT_SPREAD = 8
EDGE_QUANTILE = 0.001


def ink_share(images: np.ndarray) -> np.ndarray:
    """The share of each ``uint8`` image's pixels that are ink (at or above :data:`INK_LEVEL`)."""
    images = np.asarray(images)
    if len(images) == 0:
        return np.zeros(0)
    return (images >= INK_LEVEL).reshape(len(images), -1).mean(axis=1)


def spread(images: np.ndarray) -> np.ndarray:
    """Each image's brightest minus darkest pixel."""
    if len(images) == 0:
        return np.zeros(0, np.int16)
    flat = np.asarray(images, dtype=np.int16).reshape(len(images), -1)
    return flat.max(axis=1) - flat.min(axis=1)


@dataclass(frozen=True)
class DomainCheck:
    """Pixel-statistics bounds of a bundle's normal images; :meth:`reasons` names the inputs outside them.

    Example:
        >>> normals = np.zeros((50, 28, 28), np.uint8); normals[:, 8:20, 10:16] = 255
        >>> check = DomainCheck.fit(normals)
        >>> [r.split(":")[0] for r in check.reasons(np.stack([normals[0], np.zeros((28, 28), np.uint8)]))]
        ['', 'constant image']
    """

    least_ink: float
    most_ink: float
    constant_normals: bool

    @classmethod
    def fit(cls, normal_images: np.ndarray) -> "DomainCheck":
        ink = ink_share(normal_images)
        return cls(least_ink=float(np.quantile(ink, EDGE_QUANTILE)), most_ink=float(np.quantile(ink, 1 - EDGE_QUANTILE)),
                   constant_normals=bool((spread(normal_images) <= CONSTANT_SPREAD).any()))

    @property
    def blank_below(self) -> float:
        return self.least_ink / 2

    @property
    def saturated_above(self) -> float:
        return self.most_ink + (1.0 - self.most_ink) / 2

    def reasons(self, images: np.ndarray) -> np.ndarray:
        """Why each ``uint8`` image is not of the trained kind, or ``""`` when it may be."""
        ink, spreads = ink_share(images), spread(images)
        reasons = np.full(len(ink), "", dtype=object)
        for i, (share, width) in enumerate(zip(ink, spreads)):
            if width <= CONSTANT_SPREAD and not self.constant_normals:
                reasons[i] = f"constant image: every pixel within {int(width)} grey levels"
            elif share < self.blank_below:
                reasons[i] = (f"near-blank frame: {share:.1%} of its pixels are ink, the bundle's normal images have "
                              f"at least {self.least_ink:.1%}")
            elif share > self.saturated_above:
                reasons[i] = (f"saturated frame: {share:.1%} of its pixels are ink, the bundle's normal images have "
                              f"at most {self.most_ink:.1%}")
        return reasons
