"""Inputs that are not images of the trained kind at all, flagged before any score is trusted.

A GAN scorer ranks images *like* its normal images; a frame with no content
can still sit close to what G draws (a near-blank frame is a thin stroke
away from a thin digit) and pass. :class:`DomainCheck` catches the frames no
normal image resembles, from simple pixel statistics of the bundle's own
normal images, so it holds for any dataset:

* a **constant** image: every pixel within :data:`CONSTANT_SPREAD` grey levels
  (unless normal images are like that too);
* a **near-blank** frame: less than half the content of the emptiest normal
  images (content: pixels at or above :data:`CONTENT_LEVEL`, anything brighter
  than the dark background, so dark garments count too);
* a **saturated** frame: more bright pixels (at or above :data:`BRIGHT_LEVEL`)
  than the brightest normal images, by at least half of what is left up to an
  all-white frame (a white or inverted frame).

"The emptiest" and "the brightest" are the 0.1 % and 99.9 % quantiles of the
normal images, so one odd training image does not switch a rule off. A flagged
input keeps its score, gets its reason in the result row and is an anomaly
whatever its score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONTENT_LEVEL = 32
BRIGHT_LEVEL = 192
CONSTANT_SPREAD = 8
EDGE_QUANTILE = 0.001


def share_at_least(images: np.ndarray, level: int) -> np.ndarray:
    """The share of each ``uint8`` image's pixels at or above ``level``."""
    images = np.asarray(images)
    if len(images) == 0:
        return np.zeros(0)
    return (images >= level).reshape(len(images), -1).mean(axis=1)


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

    least_content: float
    most_bright: float
    constant_normals: bool

    @classmethod
    def fit(cls, normal_images: np.ndarray) -> "DomainCheck":
        return cls(least_content=float(np.quantile(share_at_least(normal_images, CONTENT_LEVEL), EDGE_QUANTILE)),
                   most_bright=float(np.quantile(share_at_least(normal_images, BRIGHT_LEVEL), 1 - EDGE_QUANTILE)),
                   constant_normals=bool((spread(normal_images) <= CONSTANT_SPREAD).any()))

    @property
    def blank_below(self) -> float:
        return self.least_content / 2

    @property
    def saturated_above(self) -> float:
        return self.most_bright + (1.0 - self.most_bright) / 2

    def reasons(self, images: np.ndarray) -> np.ndarray:
        """Why each ``uint8`` image is not of the trained kind, or ``""`` when it may be."""
        content, bright = share_at_least(images, CONTENT_LEVEL), share_at_least(images, BRIGHT_LEVEL)
        reasons = np.full(len(content), "", dtype=object)
        for i, (filled, white, width) in enumerate(zip(content, bright, spread(images))):
            if width <= CONSTANT_SPREAD and not self.constant_normals:
                reasons[i] = f"constant image: every pixel within {int(width)} grey levels"
            elif filled < self.blank_below:
                reasons[i] = (f"near-blank frame: {filled:.1%} of its pixels are above the background, the "
                              f"bundle's normal images have at least {self.least_content:.1%}")
            elif white > self.saturated_above:
                reasons[i] = (f"saturated frame: {white:.1%} of its pixels are near white, the bundle's normal "
                              f"images have at most {self.most_bright:.1%}")
        return reasons
