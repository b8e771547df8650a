"""Result rows: one schema for every scored input, written to CSV or Parquet atomically and resumably.

Rows (:data:`RESULT_COLUMNS`) carry the input's ``index`` (its position in
the input), ``path``, ``class``, ``label`` (``normal``/``anomaly`` when the
class is known to the bundle), every score, ``normalized_score``, the
``threshold``, ``is_anomaly``, the map files (``reconstruction``,
``anomaly_map``, relative to the results file) and ``error``. A file that
cannot be decoded gets a row with the reason in ``error`` and the batch goes on.

Images are decoded and scored one chunk at a time, so memory does not grow
with the input; each chunk's rows are appended and flushed to disk before
the next, so a killed run resumes with ``resume=True`` with exactly one row
per input. An engine scores the chunks: :class:`LocalEngine` in this
process, or :class:`anogan.ray_engine.RayEngine` on Ray; the rows are the same.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from anogan.artifacts import atomic_path, write_text_atomic
from anogan.data import from_model_range
from anogan.errors import AnoganError
from anogan.images import heatmap_rgb, save_image
from anogan.inputs import InputItem, InputSource, decode_uploads, label_for

RESULT_COLUMNS = (
    "index", "path", "class", "label", "method", "score", "residual_score", "discrimination_score",
    "normalized_score", "threshold", "is_anomaly", "reason", "reconstruction", "anomaly_map", "error",
)
# files written before the reason column still read (and show in the dashboard); they are not resumed
LEGACY_RESULT_COLUMNS = tuple(c for c in RESULT_COLUMNS if c != "reason")
FLOAT_COLUMNS = ("score", "residual_score", "discrimination_score", "normalized_score", "threshold")
TEXT_COLUMNS = ("path", "class", "label", "method", "reason", "reconstruction", "anomaly_map", "error")
RESULT_FORMATS = ("csv", "parquet")
MAX_UPLOAD_FILES = 500
MAX_LISTED_FAILURES = 10


def scored_mask(frame) -> np.ndarray:
    """``True`` for the rows of a results frame that were scored (no error)."""
    return (frame["error"].astype(str) == "").to_numpy()


def _score_chunk(scorer, calibration, items: Sequence[InputItem]):
    """Rows keyed by input index, the scores of the readable items, and those items."""
    good = [item for item in items if item.error == "" and item.image is not None]
    result = scorer.score(np.stack([item.image for item in good])) if good else None
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
    return rows_by_index, result, good


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


def score_uploads(scorer, calibration, files: Sequence[tuple[str, bytes]]) -> list[UploadScore]:
    """Score in-memory files (name, bytes), e.g. dashboard uploads; a bad file gets an error row.

    At most :data:`MAX_UPLOAD_FILES` files are taken at once, so one request cannot hold the server for long.
    """
    if len(files) > MAX_UPLOAD_FILES:
        raise AnoganError(f"{len(files)} files given; at most {MAX_UPLOAD_FILES} are scored at once")
    items = decode_uploads(files)
    rows_by_index, result, good = _score_chunk(scorer, calibration, items)
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


def _recover_rows(out: Path, method: str) -> tuple[set[int], int]:
    """Indices already in ``out`` and how many of them were scored; drops a half-written last line left by a kill."""
    with open(out, newline="", encoding="utf-8") as handle:
        text = handle.read()
    lines = text.splitlines(keepends=True)
    if not lines:
        return set(), 0
    header = next(csv.reader([lines[0]]))
    if tuple(header) != RESULT_COLUMNS:
        raise AnoganError(f"{out}: not a results file of this anogan version (unexpected columns); choose another --out")
    kept, done, scored = [lines[0]], set(), 0
    for line in lines[1:]:
        if not line.endswith("\n"):
            break
        fields = next(csv.reader([line]))
        if len(fields) != len(RESULT_COLUMNS) or not fields[0].isdigit():
            break
        if fields[RESULT_COLUMNS.index("method")] != method:
            raise AnoganError(f"{out}: holds {fields[RESULT_COLUMNS.index('method')]} scores; resume with that method")
        index = int(fields[0])
        if index not in done:
            done.add(index)
            kept.append(line)
            scored += fields[RESULT_COLUMNS.index("error")] == ""
    if len(kept) != len(lines):
        write_text_atomic(out, "".join(kept))
    return done, scored


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


class LocalEngine:
    """Scores the inputs in this process, one chunk after another (the default engine).

    An engine turns (source, scorer, calibration, the indices to score) into
    lists of result rows in input order (``score_chunks``) and runs
    independent jobs such as benchmark runs (``run_all``);
    :class:`anogan.ray_engine.RayEngine` does the same on Ray.
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


def results_format(out: os.PathLike | str, file_format: Optional[str] = None) -> str:
    """The results file's format: ``file_format``, else ``parquet`` for a ``.parquet`` name, else ``csv``."""
    if file_format is None:
        return "parquet" if Path(out).suffix.lower() == ".parquet" else "csv"
    if file_format not in RESULT_FORMATS:
        raise AnoganError(f"unknown results format {file_format!r}; choose from {', '.join(RESULT_FORMATS)}")
    return file_format


class _ResultsJournal:
    """The CSV that rows are appended to and flushed, chunk by chunk, so a killed run resumes.

    For a CSV results file the journal is the file itself. For Parquet, which
    cannot be appended to, it is ``OUT.partial.csv``, turned into ``OUT`` when
    every input is done; resuming a finished Parquet file starts from its rows.
    """

    def __init__(self, out: Path, file_format: str, method: str, resume: bool):
        self.out = out
        self.file_format = file_format
        self.path = out if file_format == "csv" else out.with_name(out.name + ".partial.csv")
        self.done: set[int] = set()
        self.previously_scored = 0
        if (out.exists() or self.path.exists()) and not resume:
            raise AnoganError(f"{out} already exists; pass --resume to continue it or choose another --out")
        if not self.path.exists() and out.exists():  # a finished Parquet file being resumed
            write_text_atomic(self.path, _csv_text(read_results(out).to_dict("records"), header=True))
        if self.path.exists():
            self.done, self.previously_scored = _recover_rows(self.path, method)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, _csv_text([], header=True))

    def finish(self) -> None:
        if self.file_format == "parquet":
            with atomic_path(self.out) as temp:
                typed_results(read_results(self.path)).to_parquet(temp, index=False)
            self.path.unlink()


def _csv_text(rows: Sequence[dict], header: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RESULT_COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows({key: _csv_value(row[key]) for key in RESULT_COLUMNS} for row in rows)
    return buffer.getvalue()


def _csv_value(value):
    """A cell as the CSV journal writes it: missing values (``None``, NaN, ``pd.NA``) as empty text."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == "<NA>":
        return ""
    return value.item() if isinstance(value, np.generic) else value


def typed_results(frame):
    """A results frame with typed columns: integer index, float scores (NaN for errors), nullable bool verdict."""
    import pandas as pd

    frame = frame.copy()
    frame["index"] = frame["index"].astype("int64")
    for column in FLOAT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column].replace("", np.nan), errors="coerce").astype("float64")
    verdict = frame["is_anomaly"].astype(str).str.strip().str.lower()
    frame["is_anomaly"] = verdict.map({"true": True, "false": False}).astype("boolean")
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].astype(str)
    return frame[list(RESULT_COLUMNS)]


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
    journal = _ResultsJournal(out, results_format(out, file_format), scorer.method, resume)
    pending = [int(i) for i in source.indices() if int(i) not in journal.done]
    chunk_size = chunk_size or (256 if scorer.method == "encoder" else scorer.settings.batch_size)
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
            handle.write(_csv_text(rows))
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


def find_results(root: os.PathLike | str, max_files: int = 500) -> list[Path]:
    """Results files (CSV or Parquet) written by :func:`score_to_file` below ``root``, recognised by their columns."""
    found = []
    for path in sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in (".csv", ".parquet")):
        if _result_columns(path) in (RESULT_COLUMNS, LEGACY_RESULT_COLUMNS):
            found.append(path)
        if len(found) >= max_files:
            break
    return found


def _result_columns(path: Path) -> tuple:
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            return tuple(pq.read_schema(path).names)
        with open(path, encoding="utf-8") as handle:
            return tuple(handle.readline().strip().split(","))
    except (OSError, UnicodeDecodeError, ValueError):  # an unreadable file is simply not a results file
        return ()


def read_results(path):
    """Read a results file written by :func:`score_to_file` (CSV or Parquet; a path or a binary file object).

    Parquet is recognised by its ``.parquet`` name or its leading magic bytes.
    """
    import pandas as pd

    if isinstance(path, (str, os.PathLike)):
        path = Path(path)
        if not path.is_file():
            raise AnoganError(f"results file not found: {path}")
    try:
        if _is_parquet(path):
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, keep_default_na=False,
                                na_values={"score": [""], "residual_score": [""], "discrimination_score": [""],
                                           "normalized_score": [""]})
    except (ValueError, OSError, UnicodeDecodeError) as exc:  # pyarrow's errors derive from the first two
        raise AnoganError(f"{_name(path)}: not a readable results file ({exc})") from None
    missing = [c for c in ("index", "label", "score", "is_anomaly", "error") if c not in frame.columns]
    if missing:
        raise AnoganError(f"{_name(path)}: missing columns {', '.join(missing)}; is it a file written by 'anogan score'?")
    if "reason" not in frame.columns:
        frame.insert(frame.columns.get_loc("is_anomaly") + 1, "reason", "")
    return frame


def _is_parquet(source) -> bool:
    if str(_name(source)).lower().endswith(".parquet"):
        return True
    if isinstance(source, Path):
        with open(source, "rb") as handle:
            return handle.read(4) == b"PAR1"
    position = source.tell()
    magic = source.read(4)
    source.seek(position)
    return magic == b"PAR1"


def _name(source) -> str:
    return str(getattr(source, "name", source))
