"""The batch scoring job: every input of a source into one results file, through an engine."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from anogan.data.inputs import InputSource
from anogan.engines.local import LocalEngine
from anogan.results.files import ResultsJournal, csv_text, results_format

MAX_LISTED_FAILURES = 10


@dataclass
class ScoreSummary:
    """What one :func:`score_to_file` call did; ``failures`` lists up to ten (path, reason) pairs."""

    total: int
    scored: int
    errors: int
    skipped: int
    seconds: float
    previously_scored: int = 0
    failures: list = field(default_factory=list)
    flagged: int = 0
    out_of_domain: int = 0

    @property
    def anything_scored(self) -> bool:
        """Whether the results file holds at least one scored row (this call's or a resumed run's)."""
        return self.scored + self.previously_scored > 0

    @property
    def images_per_second(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0


def score_to_file(
    source: InputSource,
    scorer,
    calibration,
    out: os.PathLike | str,
    maps_dir: Optional[os.PathLike | str] = None,
    resume: bool = False,
    chunk_size: Optional[int] = None,
    progress: bool = True,
    file_format: Optional[str] = None,
    engine=None,
) -> ScoreSummary:
    """Score every input of ``source`` into the results file ``out`` (CSV, or Parquet with ``file_format``).

    Rows are in input order and identical whichever ``engine`` scores them
    (default :class:`LocalEngine`); they are flushed to disk chunk by chunk,
    so ``resume=True`` continues a killed run with exactly one row per input.

    Raises:
        AnoganError: if ``out`` exists and ``resume`` is false.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    maps_dir = Path(maps_dir) if maps_dir is not None else None
    engine = engine or LocalEngine()
    engine.start()  # before the results file is touched, so a failed start leaves nothing behind
    journal = ResultsJournal(out, results_format(out, file_format), scorer.method, resume)
    pending = [int(i) for i in source.indices() if int(i) not in journal.done]
    chunk_size = chunk_size or scorer.chunk_size
    scored = errors = flagged = out_of_domain = 0
    failures = []
    started = time.perf_counter()
    bar = tqdm(total=len(pending), desc=f"scoring ({scorer.method}, {engine.name})", unit="img",
               disable=None if progress else True)
    with open(journal.path, "a", newline="", encoding="utf-8") as handle:
        for rows in engine.score_chunks(source, scorer, calibration, pending, chunk_size, maps_dir):
            for row in rows:
                for key in ("reconstruction", "anomaly_map"):
                    if row[key]:  # relative to the results file, so a run folder can move
                        row[key] = os.path.relpath(row[key], out.parent)
            handle.write(csv_text(rows))
            handle.flush()
            os.fsync(handle.fileno())
            failed = [(row["path"] or f"input {row['index']}", row["error"]) for row in rows if row["error"]]
            failures.extend(failed[: MAX_LISTED_FAILURES - len(failures)])
            errors += len(failed)
            scored += len(rows) - len(failed)
            flagged += sum(row["is_anomaly"] is True for row in rows)
            out_of_domain += sum(bool(row["reason"]) for row in rows)
            bar.update(len(rows))
            bar.set_postfix(img_s=f"{scored / max(time.perf_counter() - started, 1e-9):.1f}", errors=errors)
    bar.close()
    journal.finish()
    return ScoreSummary(total=len(source), scored=scored, errors=errors, skipped=len(journal.done),
                        seconds=time.perf_counter() - started, previously_scored=journal.previously_scored,
                        failures=failures, flagged=flagged, out_of_domain=out_of_domain)
