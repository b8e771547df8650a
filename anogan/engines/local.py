"""The local engine: scores in this process, one chunk after another (the default)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Optional, Sequence

from anogan.data.inputs import InputSource
from anogan.results.rows import score_items


class LocalEngine:
    """Scores the inputs in this process, one chunk after another (the default engine).

    An engine turns (source, scorer, calibration, the indices to score) into
    lists of result rows in input order (``score_chunks``) and runs
    independent jobs such as benchmark runs (``run_all``);
    :class:`anogan.engines.ray_engine.RayEngine` does the same on Ray.
    """

    name = "local"

    def start(self) -> None:
        """Nothing to start here (a Ray engine connects in its ``start``)."""

    def score_chunks(self, source: InputSource, scorer, calibration, indices: Sequence[int], chunk_size: int,
                     maps_dir: Optional[Path] = None) -> Iterator[list[dict]]:
        for start in range(0, len(indices), chunk_size):
            items = [source.item(i) for i in indices[start : start + chunk_size]]
            yield score_items(scorer, calibration, items, maps_dir)

    def run_all(self, function, calls: Sequence[dict]) -> list:
        """``function(**call)`` for every call, one after another."""
        return [function(**call) for call in calls]
