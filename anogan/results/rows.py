"""Result rows: one schema for every scored input.

Rows (:data:`RESULT_COLUMNS`) carry the input's ``index`` (its position in
the input), ``path``, ``class``, ``label`` (``normal``/``anomaly`` when the
class is known to the bundle), every score, ``normalized_score``, the
``threshold``, ``is_anomaly``, ``reason``, the map files (``reconstruction``,
``anomaly_map``, relative to the results file) and ``error``. A file that
cannot be decoded gets a row with the reason in ``error`` and the batch goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from anogan.data.datasets import from_model_range
from anogan.data.images import heatmap_rgb, save_image
from anogan.data.inputs import InputItem, decode_uploads, label_for
from anogan.errors import AnoganError
from anogan.storage import atomic_path

RESULT_COLUMNS = (
    "index", "path", "class", "label", "method", "score", "residual_score", "discrimination_score",
    "normalized_score", "threshold", "is_anomaly", "reason", "reconstruction", "anomaly_map", "error",
)
# files written before the reason column still read (and show in the dashboard); they are not resumed
LEGACY_RESULT_COLUMNS = tuple(c for c in RESULT_COLUMNS if c != "reason")
FLOAT_COLUMNS = ("score", "residual_score", "discrimination_score", "normalized_score", "threshold")
TEXT_COLUMNS = ("path", "class", "label", "method", "reason", "reconstruction", "anomaly_map", "error")


MAX_UPLOAD_FILES = 500


def scored_mask(frame) -> np.ndarray:
    """``True`` for the rows of a results frame that were scored (no error)."""
    return (frame["error"].astype(str) == "").to_numpy()


def _score_chunk(scorer, calibration, items: Sequence[InputItem], score: Optional[Callable] = None):
    """Rows keyed by input index, the scores of the readable items, and those items; ``score`` (default
    ``scorer.score``) computes the scores, e.g. through a micro-batcher."""
    good = [item for item in items if item.error == "" and item.image is not None]
    result = (score or scorer.score)(np.stack([item.image for item in good])) if good else None
    return rows_for(scorer, calibration, items, good, result), result, good


def rows_for(scorer, calibration, items: Sequence[InputItem], good: Sequence[InputItem], result) -> dict[int, dict]:
    """The result rows of ``items``, keyed by input index, given the scores ``result`` of the readable ones
    (``good``, in order); the others get their error."""
    normalized = calibration.normalize(result.score) if good else []
    verdicts = calibration.verdict(result) if good else []
    rows_by_index = {}
    for position, item in enumerate(good):
        row = _base_row(item, scorer)
        row.update(
            score=float(result.score[position]),
            residual_score=float(result.residual_score[position]),
            discrimination_score=float(result.discrimination_score[position]),
            normalized_score=float(normalized[position]),
            threshold=float(calibration.threshold),
            is_anomaly=bool(verdicts[position]),
            reason=str(result.reason[position]),
        )
        rows_by_index[item.index] = row
    for item in items:
        if item.index not in rows_by_index:
            rows_by_index[item.index] = {**_base_row(item, scorer), "error": item.error or "no image"}
    return rows_by_index


def score_items(scorer, calibration, items: Sequence[InputItem], maps_dir: Optional[Path] = None) -> list[dict]:
    """Score one chunk of inputs into result rows (the unit the batch script streams).

    A pure function of (scorer, calibration, items): rows for error items
    carry the error; the others carry every score column. With ``maps_dir``,
    the reconstruction and residual heat map of each image are written there.
    """
    rows_by_index, result, good = _score_chunk(scorer, calibration, items)
    if maps_dir is not None:
        for position, item in enumerate(good):
            rows_by_index[item.index].update(
                _write_maps(maps_dir, map_stem(item), result.reconstruction[position], result.anomaly_map[position])
            )
    return [rows_by_index[item.index] for item in items]


@dataclass
class UploadScore:
    """An uploaded file's result row, with images for display (``None`` for a file that could not be read)."""

    row: dict
    image: Optional[np.ndarray] = None
    reconstruction: Optional[np.ndarray] = None
    heatmap: Optional[np.ndarray] = None


def score_uploads(scorer, calibration, files: Sequence[tuple[str, bytes]],
                  score: Optional[Callable] = None) -> list[UploadScore]:
    """Score in-memory files (name, bytes), e.g. dashboard uploads; a bad file gets an error row.

    At most :data:`MAX_UPLOAD_FILES` files are taken at once, so one request cannot hold the server for long.
    ``score`` replaces ``scorer.score`` (the dashboard passes a shared micro-batcher's).
    """
    if len(files) > MAX_UPLOAD_FILES:
        raise AnoganError(f"{len(files)} files given; at most {MAX_UPLOAD_FILES} are scored at once")
    items = decode_uploads(files)
    rows_by_index, result, good = _score_chunk(scorer, calibration, items, score)
    scores = [UploadScore(row=rows_by_index[item.index]) for item in items]
    for position, item in enumerate(good):
        scores[item.index].image = item.image
        scores[item.index].reconstruction = from_model_range(result.reconstruction[position][None])[0]
        scores[item.index].heatmap = heatmap_rgb(result.anomaly_map[position])
    return scores


def _base_row(item: InputItem, scorer) -> dict:
    row = dict.fromkeys(RESULT_COLUMNS, "")
    row.update(index=item.index, path=item.path, method=scorer.method)
    row["class"] = item.class_name
    row["label"] = label_for(item.class_name, scorer.bundle) if item.class_name else ""
    return row


def map_stem(item: InputItem) -> str:
    """The file-name stem of an input's maps: its own name (made safe) and its index, which keeps it unique.

    Example:
        >>> map_stem(InputItem(index=25, path="scans/0/part 7.png"))
        'part_7-000025'
    """
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(item.path).stem)[:80].strip("._") if item.path else ""
    return f"{name}-{item.index:06d}" if name else f"{item.index:06d}"


def _write_maps(maps_dir: Path, stem: str, reconstruction: np.ndarray, anomaly_map: np.ndarray) -> dict:
    from PIL import Image

    maps_dir.mkdir(parents=True, exist_ok=True)
    names = {"reconstruction": maps_dir / f"{stem}_reconstruction.png",
             "anomaly_map": maps_dir / f"{stem}_anomaly_map.png"}
    with atomic_path(names["reconstruction"]) as temp:
        save_image(from_model_range(reconstruction[None])[0], temp)
    with atomic_path(names["anomaly_map"]) as temp:
        Image.fromarray(heatmap_rgb(anomaly_map)).save(temp, format="PNG")
    return {key: str(value) for key, value in names.items()}
