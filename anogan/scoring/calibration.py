"""Calibration: thresholds and normalised scores, stored with the bundle.

A method's calibration is computed on the bundle's held-out **normal
validation** images, never on the data being evaluated:

* default rule: a split-conformal threshold for a target false-positive rate
  α (default 1 %): the ⌈(n + 1)(1 − α)⌉-th smallest of the n normal
  validation scores. A new normal image, exchangeable with those n, scores
  above it with probability (n + 1 − k)/(n + 1) ≤ α, so the promise "flags
  about α of normal images" holds on held-out normals. It needs
  n ≥ (1 − α)/α images (99 for 1 %); with fewer, the threshold is the largest
  normal score, the smallest rate n images support is 1/(n + 1), and the
  calibration says so in its ``note``;
* with labelled anomalies supplied (a separate validation set, not the test
  set): the threshold that maximises F1 on normal validation + anomalies.

``normalized_score`` maps a score to [0, 1] with a logistic curve centred on
the threshold (0.5 at the threshold) whose scale is the standard deviation of
the normal validation scores: 0.73 one standard deviation above the
threshold, 0.27 one below.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

import numpy as np

from anogan.errors import AnoganError

DEFAULT_FALSE_POSITIVE_RATE = 0.01


@dataclass
class Calibration:
    """One method's threshold and the normal score distribution it came from.

    Attributes:
        false_positive_rate: the rate asked for (conformal rule).
        expected_false_positive_rate: the rate the threshold gives normal
            images exchangeable with the validation images: at most the one
            asked for, or 1/(n + 1) when n is too small (see ``note``).
        note: why the promise differs from the request, if it does.
    """

    method: str
    settings: dict
    threshold: float
    rule: str
    scale: float
    validation_scores: list = field(default_factory=list)
    false_positive_rate: Optional[float] = None
    expected_false_positive_rate: Optional[float] = None
    n_anomalies: int = 0
    note: str = ""

    def normalize(self, scores: np.ndarray) -> np.ndarray:
        """Scores to [0, 1], 0.5 at the threshold."""
        z = (np.asarray(scores, dtype=np.float64) - self.threshold) / self.scale
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    def is_anomaly(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores) > self.threshold

    def verdict(self, batch) -> np.ndarray:
        """Anomaly or not for each image of a :class:`~anogan.scoring.batch.ScoreBatch`: above the threshold, or not
        an image of the trained kind at all (a ``reason``)."""
        flagged = self.is_anomaly(batch.score)
        return flagged if batch.reason is None else flagged | (batch.reason != "")

    def summary(self) -> dict:
        scores = np.asarray(self.validation_scores)
        return {
            "n": int(len(scores)),
            "mean": float(scores.mean()),
            "std": float(scores.std()),
            "min": float(scores.min()),
            "median": float(np.median(scores)),
            "max": float(scores.max()),
        }

    def to_dict(self) -> dict:
        return {**asdict(self), "validation_summary": self.summary()}

    @classmethod
    def from_dict(cls, values: dict) -> "Calibration":
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in values.items() if k in known})
        except TypeError as exc:
            raise AnoganError(f"damaged calibration in bundle.json ({exc})") from None

    @property
    def current(self) -> bool:
        """Made by a rule this version still uses (older bundles stored plain percentiles)."""
        return self.rule == "f1-max" or self.rule.startswith("conformal")


def conformal_threshold(normal_scores: np.ndarray, rate: float) -> tuple[float, float, str]:
    """The split-conformal threshold of ``normal_scores`` for false-positive rate ``rate``.

    Returns the threshold, the false-positive rate it gives and a note when
    there are too few scores to promise ``rate``.

    Example:
        >>> conformal_threshold(np.arange(1.0, 200.0), 0.01)[:2]
        (198.0, 0.01)
    """
    scores = np.sort(np.asarray(normal_scores, dtype=np.float64))
    n = len(scores)
    k = math.ceil((n + 1) * (1 - rate) - 1e-9)
    note = ""
    if k > n:
        k = n
        note = (f"{n} normal validation images cannot promise a false-positive rate of {rate:.2%}: that takes at "
                f"least {math.ceil((1 - rate) / rate - 1e-9)}. The threshold is their largest score, which flags "
                f"about {1 / (n + 1):.2%} of normal images.")
    return float(scores[k - 1]), (n + 1 - k) / (n + 1), note


def f1_max_threshold(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """The threshold maximising F1 (anomaly = positive) and that F1.

    A score strictly above the threshold is an anomaly, so the threshold is
    placed halfway between the last normal-called and first anomaly-called score.
    """
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    best = int(np.argmax(f1[:-1])) if len(thresholds) else 0
    cut = thresholds[best]
    below = np.asarray(scores)[np.asarray(scores) < cut]
    threshold = (below.max() + cut) / 2 if len(below) else np.nextafter(cut, -np.inf)
    return float(threshold), float(f1[best])


def calibrate_scores(
    method: str,
    settings: dict,
    normal_scores: np.ndarray,
    anomaly_scores: Optional[np.ndarray] = None,
    false_positive_rate: float = DEFAULT_FALSE_POSITIVE_RATE,
) -> Calibration:
    """Build a :class:`Calibration` from scores of normal validation images (and optional anomalies)."""
    normal_scores = np.asarray(normal_scores, dtype=np.float64)
    if len(normal_scores) == 0:
        raise AnoganError("calibration needs at least one normal validation image")
    if not 0 < false_positive_rate < 1:
        raise AnoganError(f"the false-positive rate must be in (0, 1), got {false_positive_rate}")
    scale = float(normal_scores.std())
    if not np.isfinite(scale) or scale <= 0:
        scale = max(abs(float(normal_scores.mean())) * 0.1, 1e-6)
    values = dict(method=method, settings=dict(settings), scale=scale,
                  validation_scores=[float(f"{s:.6g}") for s in normal_scores])
    if anomaly_scores is not None and len(anomaly_scores):
        anomaly_scores = np.asarray(anomaly_scores, dtype=np.float64)
        labels = np.r_[np.zeros(len(normal_scores)), np.ones(len(anomaly_scores))]
        threshold, _ = f1_max_threshold(labels, np.r_[normal_scores, anomaly_scores])
        return Calibration(**values, threshold=threshold, rule="f1-max", n_anomalies=len(anomaly_scores))
    threshold, expected, note = conformal_threshold(normal_scores, false_positive_rate)
    return Calibration(**values, threshold=threshold, rule=f"conformal, false-positive rate {false_positive_rate:g}",
                       false_positive_rate=false_positive_rate, expected_false_positive_rate=expected, note=note)


def stored_calibration_of(bundle, method: str) -> Optional[Calibration]:
    """The bundle's current calibration of ``method``, whatever settings made it."""
    values = bundle.metadata.get("calibration", {}).get(method)
    if values is None:
        return None
    calibration = Calibration.from_dict(values)
    return calibration if calibration.current else None


def stored_calibration(bundle, method: str, settings) -> Optional[Calibration]:
    """The bundle's calibration of ``method`` if it was made with the same settings."""
    calibration = stored_calibration_of(bundle, method)
    if calibration is None:
        return None
    # a setting added after the calibration was made is read as its default
    made_with = type(settings).from_dict(calibration.settings).relevant_to(method)
    return calibration if made_with == settings.relevant_to(method) else None


def calibrate(
    scorer,
    false_positive_rate: float = DEFAULT_FALSE_POSITIVE_RATE,
    anomalies: Optional[np.ndarray] = None,
    save: bool = True,
) -> Calibration:
    """Score the bundle's normal validation images with ``scorer`` and store a threshold for its method.

    Args:
        scorer: a :class:`~anogan.scoring.scorer.Scorer` (its bundle, method and settings).
        false_positive_rate: the share of normal images the threshold may flag (default rule).
        anomalies: optional labelled anomaly images (``uint8`` ``(N, 28, 28)``),
            from a validation set, never the test set: switches to F1-max.
        save: write the calibration into ``bundle.json``.

    Example:
        >>> calibrate(Scorer(load_bundle("runs/demo"), "encoder")).threshold  # doctest: +SKIP
        0.0123
    """
    bundle, method = scorer.bundle, scorer.method
    normal_scores = scorer.score(bundle.validation_images()).score
    anomaly_scores = scorer.score(anomalies).score if anomalies is not None else None
    calibration = calibrate_scores(method, scorer.settings.relevant_to(method), normal_scores, anomaly_scores,
                                   false_positive_rate)
    if calibration.note:
        logging.getLogger(__name__).warning("%s: %s", method, calibration.note)
    if save:
        bundle.metadata.setdefault("calibration", {})[method] = calibration.to_dict()
        try:
            bundle.save_metadata()
        except OSError as exc:  # a read-only bundle still scores, with this calibration in memory
            logging.getLogger(__name__).warning("could not store the calibration in %s: %s", bundle.path, exc)
    return calibration
