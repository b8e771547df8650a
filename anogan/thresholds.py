"""Calibration: thresholds and normalised scores, stored with the bundle.

A method's calibration is computed on the bundle's held-out **normal
validation** images, never on the data being evaluated:

* default rule: the threshold is a percentile (99th) of the normal scores;
  it needs no anomalies and flags about 1 % of normal images;
* with labelled anomalies supplied (a separate validation set, not the test
  set): the threshold that maximises F1 on normal validation + anomalies.

``normalized_score`` maps a score to [0, 1] with a logistic curve centred on
the threshold (0.5 at the threshold) whose scale is the standard deviation of
the normal validation scores: 0.73 one standard deviation above the
threshold, 0.27 one below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from anogan.errors import AnoganError

DEFAULT_PERCENTILE = 99.0


@dataclass
class Calibration:
    """One method's threshold and the normal score distribution it came from."""

    method: str
    settings: dict
    threshold: float
    rule: str
    scale: float
    validation_scores: list = field(default_factory=list)
    percentile: Optional[float] = None
    n_anomalies: int = 0

    def normalize(self, scores: np.ndarray) -> np.ndarray:
        """Scores to [0, 1], 0.5 at the threshold."""
        z = (np.asarray(scores, dtype=np.float64) - self.threshold) / self.scale
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    def is_anomaly(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores) > self.threshold

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
        try:
            return cls(**{k: v for k, v in values.items() if k != "validation_summary"})
        except TypeError as exc:
            raise AnoganError(f"damaged calibration in bundle.json ({exc})") from None


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
    percentile: float = DEFAULT_PERCENTILE,
) -> Calibration:
    """Build a :class:`Calibration` from scores of normal validation images (and optional anomalies)."""
    normal_scores = np.asarray(normal_scores, dtype=np.float64)
    if len(normal_scores) == 0:
        raise AnoganError("calibration needs at least one normal validation image")
    if not 0 < percentile <= 100:
        raise AnoganError(f"percentile must be in (0, 100], got {percentile}")
    scale = float(normal_scores.std())
    if not np.isfinite(scale) or scale <= 0:
        scale = max(abs(float(normal_scores.mean())) * 0.1, 1e-6)
    if anomaly_scores is not None and len(anomaly_scores):
        anomaly_scores = np.asarray(anomaly_scores, dtype=np.float64)
        labels = np.r_[np.zeros(len(normal_scores)), np.ones(len(anomaly_scores))]
        threshold, _ = f1_max_threshold(labels, np.r_[normal_scores, anomaly_scores])
        rule, used_percentile, n_anomalies = "f1-max", None, len(anomaly_scores)
    else:
        threshold = float(np.percentile(normal_scores, percentile))
        rule, used_percentile, n_anomalies = f"percentile-{percentile:g}", percentile, 0
    return Calibration(
        method=method,
        settings=dict(settings),
        threshold=threshold,
        rule=rule,
        scale=scale,
        validation_scores=[float(f"{s:.6g}") for s in normal_scores],
        percentile=used_percentile,
        n_anomalies=n_anomalies,
    )


def stored_calibration(bundle, method: str, settings) -> Optional[Calibration]:
    """The bundle's calibration of ``method`` if it was made with the same settings."""
    values = bundle.metadata.get("calibration", {}).get(method)
    if values is None:
        return None
    calibration = Calibration.from_dict(values)
    return calibration if calibration.settings == settings.relevant_to(method) else None


def calibrate(
    scorer,
    percentile: float = DEFAULT_PERCENTILE,
    anomalies: Optional[np.ndarray] = None,
    save: bool = True,
) -> Calibration:
    """Score the bundle's normal validation images with ``scorer`` and store a threshold for its method.

    Args:
        scorer: a :class:`~anogan.scoring.Scorer` (its bundle, method and settings).
        percentile: the threshold's percentile of normal scores (default rule).
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
                                   percentile)
    if save:
        bundle.metadata.setdefault("calibration", {})[method] = calibration.to_dict()
        try:
            bundle.save_metadata()
        except OSError as exc:  # a read-only bundle still scores, with this calibration in memory
            import logging

            logging.getLogger(__name__).warning("could not store the calibration in %s: %s", bundle.path, exc)
    return calibration
