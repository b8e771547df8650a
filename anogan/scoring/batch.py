"""The score schema: what every method returns for a batch of images."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Optional

import numpy as np


@dataclass
class ScoreBatch:
    """Scores of a batch of images; every array has the batch as first axis.

    ``reason`` says why an image is not of the trained kind at all
    (:mod:`anogan.scoring.domain`), ``""`` where it may be; :meth:`Scorer.score` fills it.
    """

    score: np.ndarray
    residual_score: np.ndarray
    discrimination_score: np.ndarray
    reconstruction: np.ndarray
    anomaly_map: np.ndarray
    z: np.ndarray
    reason: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.score)

    def part(self, start: int, stop: int) -> "ScoreBatch":
        """The images ``start`` to ``stop`` of this batch (a micro-batch's answer to one request)."""
        return ScoreBatch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[start:stop]
                             for f in fields(ScoreBatch)})

    @staticmethod
    def concatenate(parts: list["ScoreBatch"]) -> "ScoreBatch":
        return ScoreBatch(**{
            f.name: None if any(getattr(p, f.name) is None for p in parts)
            else np.concatenate([getattr(p, f.name) for p in parts])
            for f in fields(ScoreBatch)
        })
