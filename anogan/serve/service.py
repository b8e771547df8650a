"""The scoring service behind the API: one bundle's calibrated scorer, warm, behind a micro-batcher."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from anogan.data.datasets import from_model_range
from anogan.data.images import heatmap_rgb, png_bytes
from anogan.data.inputs import decode_uploads
from anogan.results.rows import rows_for
from anogan.serve.batcher import MicroBatcher

# What an answer carries of a result row: the numbers and the verdict, under the file's name.
ANSWER_FIELDS = ("score", "residual_score", "discrimination_score", "normalized_score", "threshold", "is_anomaly",
                 "reason", "error")


@dataclass
class ScoringService:
    """One bundle scored with one method: the scorer and calibration (built once, at start),
    the micro-batcher in front of them, and the model's description.

    Args:
        model: the bundle's folder.
        method, recipe: as ``anogan score`` takes them (default: the bundle's recipe).
        max_batch, max_wait, batching: the micro-batcher's settings (see :class:`MicroBatcher`).
        batcher_type: what collects concurrent requests into scorer calls, built as
            ``batcher_type(score, max_batch, max_wait, batching)``: the :class:`MicroBatcher`, or on Ray
            Serve the one built on ``@serve.batch`` (:class:`anogan.serve.ray_serve.ServeBatcher`).
    """

    model: str
    method: Optional[str] = None
    recipe: Optional[str] = None
    max_batch: Optional[int] = None
    max_wait: float = 0.005
    batching: bool = True
    batcher_type: Callable = MicroBatcher
    scorer: object = field(default=None, init=False)
    calibration: object = field(default=None, init=False)
    batcher: Optional[MicroBatcher] = field(default=None, init=False)
    info: dict = field(default_factory=dict, init=False)

    @property
    def ready(self) -> bool:
        return self.batcher is not None and self.info != {}

    async def start(self) -> None:
        """Build the scorer and calibration and score one image, so the first request finds them warm."""
        await asyncio.to_thread(self._load)  # seconds of loading (and a first calibration) off the event loop
        self.batcher = self.batcher_type(self.scorer.score, self.max_batch or self.scorer.chunk_size, self.max_wait,
                                    self.batching)
        await self.batcher.start()
        await self.batcher.score(np.zeros((1, 28, 28), np.uint8))
        self.info = self._describe()

    async def stop(self) -> None:
        if self.batcher is not None:
            await self.batcher.stop()

    def _load(self) -> None:
        from anogan.experiments.pipeline import prepare_scorer
        from anogan.gan.bundle import open_bundle
        from anogan.scoring.recipes import scoring_choice

        bundle = open_bundle(self.model)
        choice = scoring_choice(bundle, self.method, self.recipe)
        self.scorer, self.calibration = prepare_scorer(bundle, choice.method, choice.settings, progress=False)

    def _describe(self) -> dict:
        from anogan.scoring.recipes import bundle_recipe
        from anogan.storage import library_versions

        bundle = self.scorer.bundle
        recipe = bundle_recipe(bundle)
        return {
            "name": bundle.path.name,
            "method": self.scorer.method,
            "recipe": recipe.to_dict() if recipe else None,
            "settings": self.scorer.settings.relevant_to(self.scorer.method),
            "normal_classes": [bundle.class_names[c] for c in bundle.normal_classes],
            "threshold": self.calibration.threshold,
            "false_positive_rate": self.calibration.expected_false_positive_rate,
            "threshold_note": self.calibration.note,
            "versions": library_versions(),
            "files_sha256": dict(bundle.metadata.get("files", {})),
        }

    async def score_files(self, files: Sequence[tuple[str, bytes]], maps: bool = False) -> list[dict]:
        """Answers for (name, contents) files in their order; a file that cannot be read gets its error."""
        items = await asyncio.to_thread(decode_uploads, files)  # decoding is CPU work: off the event loop
        good = [item for item in items if item.error == "" and item.image is not None]
        result = await self.batcher.score(np.stack([item.image for item in good])) if good else None
        rows = rows_for(self.scorer, self.calibration, items, good, result)
        answers = [_answer(rows[item.index]) for item in items]
        if maps:
            for position, item in enumerate(good):
                answers[item.index]["reconstruction_png"] = _base64_png(
                    from_model_range(result.reconstruction[position][None])[0])
                answers[item.index]["anomaly_map_png"] = _base64_png(heatmap_rgb(result.anomaly_map[position]))
        return answers


def _answer(row: dict) -> dict:
    answer = {"name": row["path"]}
    for key in ANSWER_FIELDS:
        value = row.get(key, "")
        answer[key] = None if value == "" and key not in ("reason", "error") else value
    return answer


def _base64_png(array: np.ndarray) -> str:
    return base64.b64encode(png_bytes(array)).decode("ascii")
