"""The results file: appended chunk by chunk, resumable, read back with its types.

Each chunk's rows are appended and flushed to disk before the next, so a
killed run resumes with ``resume=True`` with exactly one row per input; the
file is CSV, or Parquet (written once the last row is in).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from anogan.errors import AnoganError
from anogan.results.rows import FLOAT_COLUMNS, LEGACY_RESULT_COLUMNS, RESULT_COLUMNS, TEXT_COLUMNS
from anogan.storage import atomic_path, write_text_atomic

RESULT_FORMATS = ("csv", "parquet")


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


def results_format(out: os.PathLike | str, file_format: Optional[str] = None) -> str:
    """The results file's format: ``file_format``, else ``parquet`` for a ``.parquet`` name, else ``csv``."""
    if file_format is None:
        return "parquet" if Path(out).suffix.lower() == ".parquet" else "csv"
    if file_format not in RESULT_FORMATS:
        raise AnoganError(f"unknown results format {file_format!r}; choose from {', '.join(RESULT_FORMATS)}")
    return file_format


class ResultsJournal:
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
            write_text_atomic(self.path, csv_text(read_results(out).to_dict("records"), header=True))
        if self.path.exists():
            self.done, self.previously_scored = _recover_rows(self.path, method)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(self.path, csv_text([], header=True))

    def finish(self) -> None:
        if self.file_format == "parquet":
            with atomic_path(self.out) as temp:
                typed_results(read_results(self.path)).to_parquet(temp, index=False)
            self.path.unlink()


def csv_text(rows: Sequence[dict], header: bool = False) -> str:
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
