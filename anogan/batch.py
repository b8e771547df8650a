"""Batch scoring: inputs of any kind in, one CSV row per input out.

Inputs (:func:`open_input`):

* a folder of images, recursive; the name of an image's parent folder is its
  ``class`` (``data/samples/0/x.png`` has class ``0``);
* an ``.npz`` with ``x`` (and optional ``y``), or a Keras-layout dataset
  ``.npz`` (its ``x_test``/``y_test``);
* a dataset split ``NAME:SPLIT`` such as ``mnist:test`` (``--data`` as for
  training).

Rows (:data:`RESULT_COLUMNS`) carry the input's ``index`` (its position in
the input), ``path``, ``class``, ``label`` (``normal``/``anomaly`` when the
class is known to the bundle), every score, ``normalized_score``, the
``threshold``, ``is_anomaly``, the map files (``reconstruction``,
``anomaly_map``, relative to the results file) and ``error``. A file that cannot be decoded gets a row with
the reason in ``error`` and the batch goes on.

Images are decoded and scored one chunk at a time, so memory does not grow
with the input; each chunk's rows are appended and flushed to disk before
the next, so a killed run resumes with ``resume=True`` with exactly one row
per input.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from anogan.artifacts import atomic_path, write_text_atomic
from anogan.data import DATASETS, from_model_range, load_dataset, validate_images, validate_labels
from anogan.errors import AnoganError, ImageError
from anogan.images import heatmap_rgb, list_image_files, read_image, save_image

RESULT_COLUMNS = (
    "index", "path", "class", "label", "method", "score", "residual_score", "discrimination_score",
    "normalized_score", "threshold", "is_anomaly", "reconstruction", "anomaly_map", "error",
)
NORMAL_WORDS = {"normal", "good", "ok"}
ANOMALY_WORDS = {"anomaly", "anomalous", "abnormal", "bad", "defect"}
SPLITS = ("train", "test")
MAX_UPLOAD_FILES = 500


@dataclass
class InputItem:
    """One input: an image (or the reason it could not be read) and what is known about it."""

    index: int
    path: str = ""
    class_name: str = ""
    image: Optional[np.ndarray] = None
    error: str = ""


@dataclass
class InputSource:
    """A lazily decoded sequence of inputs. ``total`` counts them all."""

    description: str
    total: int
    _paths: Sequence[Path] = field(default_factory=list, repr=False)
    _root: Optional[Path] = field(default=None, repr=False)
    _images: Optional[np.ndarray] = field(default=None, repr=False)
    _classes: Optional[Sequence[str]] = field(default=None, repr=False)
    _indices: Optional[np.ndarray] = field(default=None, repr=False)

    def indices(self) -> np.ndarray:
        """The positions to score: all, or the seeded subset chosen with ``limit``."""
        return np.arange(self.total) if self._indices is None else self._indices

    def __len__(self) -> int:
        return len(self.indices())

    def readable_images(self) -> np.ndarray:
        """Every input that decodes, as ``uint8`` ``(N, 28, 28)`` (unreadable files are left out)."""
        items = (self.item(int(i)) for i in self.indices())
        images = [item.image for item in items if item.image is not None]
        if not images:
            raise AnoganError(f"no readable image in {self.description}")
        return np.stack(images)

    def item(self, index: int) -> InputItem:
        if self._images is not None:
            class_name = "" if self._classes is None else self._classes[index]
            return InputItem(index=index, class_name=class_name, image=self._images[index])
        path = self._paths[index]
        relative = path.relative_to(self._root)
        class_name = relative.parts[-2] if len(relative.parts) > 1 else ""
        try:
            return InputItem(index=index, path=str(path), class_name=class_name, image=read_image(path))
        except ImageError as exc:
            return InputItem(index=index, path=str(path), class_name=class_name, error=str(exc))


def _sample(total: int, limit: Optional[int], seed: int) -> Optional[np.ndarray]:
    if limit is None or limit >= total:
        return None
    if limit < 1:
        raise AnoganError(f"--limit must be at least 1, got {limit}")
    return np.sort(np.random.default_rng(seed).choice(total, size=limit, replace=False))


def open_input(spec: str, data: Optional[str] = None, limit: Optional[int] = None, sample_seed: int = 0) -> InputSource:
    """Open an input for batch scoring (see the module docstring).

    Args:
        spec: a folder, an ``.npz`` file, or ``DATASET:SPLIT``.
        data: local data files for ``DATASET:SPLIT``.
        limit: score a seeded random subset of this many inputs.
        sample_seed: the subset's seed.
    """
    path = Path(spec)
    if path.is_dir():
        paths = list_image_files(path)
        return InputSource(f"folder {path}", len(paths), _paths=paths, _root=path,
                           _indices=_sample(len(paths), limit, sample_seed))
    if path.is_file():
        images, labels = _read_npz_input(path)
        classes = None if labels is None else [str(v) for v in labels]
        return InputSource(f"array file {path}", len(images), _images=images, _classes=classes,
                           _indices=_sample(len(images), limit, sample_seed))
    name, _, split = spec.partition(":")
    if name in DATASETS and split in SPLITS:
        dataset = load_dataset(name, data)
        images = dataset.x_test if split == "test" else dataset.x_train
        labels = dataset.y_test if split == "test" else dataset.y_train
        classes = [dataset.class_names[v] for v in labels]
        return InputSource(f"{name} {split} split", len(images), _images=images, _classes=classes,
                           _indices=_sample(len(images), limit, sample_seed))
    raise AnoganError(
        f"input {spec!r} is not a folder, a file, or a dataset split like mnist:test "
        f"(datasets: {', '.join(DATASETS)}; splits: {', '.join(SPLITS)})"
    )


def _read_npz_input(path: Path) -> tuple[np.ndarray, Optional[np.ndarray]]:
    if path.suffix.lower() != ".npz":
        raise AnoganError(f"{path}: a single input file must be an .npz array file (score images as a folder)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = ("x", "y") if "x" in archive.files else ("x_test", "y_test")
            if keys[0] not in archive.files:
                raise AnoganError(f"{path}: no array 'x' (or 'x_test'); found {', '.join(archive.files) or 'none'}")
            images = archive[keys[0]]
            labels = archive[keys[1]] if keys[1] in archive.files else None
    except AnoganError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise AnoganError(f"{path}: not a readable .npz file ({exc})") from None
    images = validate_images(images, f"{path}: {keys[0]}")
    if labels is not None:
        labels = validate_labels(labels, len(images), f"{path}: {keys[1]}")
    return images, labels


def label_for(class_name: str, bundle) -> str:
    """``normal`` / ``anomaly`` when the class is known, else empty."""
    names = bundle.class_names
    normal_names = {names[c] for c in bundle.normal_classes}
    if class_name.isdigit() and class_name not in names and int(class_name) < len(names):
        class_name = names[int(class_name)]
    if class_name in normal_names or class_name.lower() in NORMAL_WORDS:
        return "normal"
    if class_name in names or class_name.lower() in ANOMALY_WORDS:
        return "anomaly"
    return ""


def _score_chunk(scorer, calibration, items: Sequence[InputItem]):
    """Rows keyed by input index, the scores of the readable items, and those items."""
    good = [item for item in items if item.error == "" and item.image is not None]
    result = scorer.score(np.stack([item.image for item in good])) if good else None
    normalized = calibration.normalize(result.score) if good else []
    rows_by_index = {}
    for position, item in enumerate(good):
        row = _base_row(item, scorer)
        row.update(
            score=float(result.score[position]),
            residual_score=float(result.residual_score[position]),
            discrimination_score=float(result.discrimination_score[position]),
            normalized_score=float(normalized[position]),
            threshold=float(calibration.threshold),
            is_anomaly=bool(calibration.is_anomaly(result.score[position])),
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
                _write_maps(maps_dir, item.index, result.reconstruction[position], result.anomaly_map[position])
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
    items = []
    for index, (name, content) in enumerate(files):
        try:
            items.append(InputItem(index=index, path=name, image=read_image(content)))
        except ImageError as exc:
            items.append(InputItem(index=index, path=name, error=str(exc)))
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


def _write_maps(maps_dir: Path, index: int, reconstruction: np.ndarray, anomaly_map: np.ndarray) -> dict:
    from PIL import Image

    maps_dir.mkdir(parents=True, exist_ok=True)
    names = {"reconstruction": maps_dir / f"{index:06d}_reconstruction.png",
             "anomaly_map": maps_dir / f"{index:06d}_anomaly_map.png"}
    with atomic_path(names["reconstruction"]) as temp:
        save_image(from_model_range(reconstruction[None])[0], temp)
    with atomic_path(names["anomaly_map"]) as temp:
        Image.fromarray(heatmap_rgb(anomaly_map)).save(temp, format="PNG")
    return {key: str(value) for key, value in names.items()}


def _recover_rows(out: Path, method: str) -> set[int]:
    """Indices already in ``out``; drops a half-written last line left by a kill."""
    with open(out, newline="", encoding="utf-8") as handle:
        text = handle.read()
    lines = text.splitlines(keepends=True)
    if not lines:
        return set()
    header = next(csv.reader([lines[0]]))
    if tuple(header) != RESULT_COLUMNS:
        raise AnoganError(f"{out}: not a results file of this anogan version (unexpected columns); choose another --out")
    kept, done = [lines[0]], set()
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
    if len(kept) != len(lines):
        write_text_atomic(out, "".join(kept))
    return done


@dataclass
class ScoreSummary:
    total: int
    scored: int
    errors: int
    skipped: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.scored / self.seconds if self.seconds > 0 else 0.0


def score_to_csv(
    source: InputSource,
    scorer,
    calibration,
    out: os.PathLike | str,
    maps_dir: Optional[os.PathLike | str] = None,
    resume: bool = False,
    chunk_size: Optional[int] = None,
    progress: bool = True,
) -> ScoreSummary:
    """Score every input of ``source`` into the CSV file ``out``.

    Raises:
        AnoganError: if ``out`` exists and ``resume`` is false.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    maps_dir = Path(maps_dir) if maps_dir is not None else None
    done: set[int] = set()
    if out.exists():
        if not resume:
            raise AnoganError(f"{out} already exists; pass --resume to continue it or choose another --out")
        done = _recover_rows(out, scorer.method)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, ",".join(RESULT_COLUMNS) + "\n")
    pending = [int(i) for i in source.indices() if int(i) not in done]
    chunk_size = chunk_size or (256 if scorer.method == "encoder" else scorer.settings.batch_size)
    scored = errors = 0
    started = time.perf_counter()
    bar = tqdm(total=len(pending), desc=f"scoring ({scorer.method})", unit="img",
               disable=None if progress else True)
    with open(out, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS)
        for start in range(0, len(pending), chunk_size):
            items = [source.item(i) for i in pending[start : start + chunk_size]]
            rows = score_items(scorer, calibration, items, maps_dir)
            for row in rows:
                for key in ("reconstruction", "anomaly_map"):
                    if row[key]:  # relative to the results file, so a run folder can move
                        row[key] = os.path.relpath(row[key], out.parent)
            writer.writerows(rows)
            handle.flush()
            os.fsync(handle.fileno())
            chunk_errors = sum(1 for row in rows if row["error"])
            errors += chunk_errors
            scored += len(rows) - chunk_errors
            bar.update(len(rows))
            bar.set_postfix(img_s=f"{scored / max(time.perf_counter() - started, 1e-9):.1f}", errors=errors)
    bar.close()
    return ScoreSummary(total=len(source), scored=scored, errors=errors, skipped=len(done), seconds=time.perf_counter() - started)


def find_results(root: os.PathLike | str, max_files: int = 500) -> list[Path]:
    """Results CSVs written by :func:`score_to_csv` below ``root`` (checked by their header)."""
    header = ",".join(RESULT_COLUMNS)
    found = []
    for path in sorted(Path(root).rglob("*.csv")):
        try:
            with open(path, encoding="utf-8") as handle:
                if handle.readline().strip() == header:
                    found.append(path)
        except (OSError, UnicodeDecodeError):
            continue
        if len(found) >= max_files:
            break
    return found


def read_results(path):
    """Read a results CSV written by :func:`score_to_csv` (a path or a binary file object) into a DataFrame."""
    import pandas as pd

    if isinstance(path, (str, os.PathLike)):
        path = Path(path)
        if not path.is_file():
            raise AnoganError(f"results file not found: {path}")
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values={"score": [""], "residual_score": [""],
                                                                     "discrimination_score": [""],
                                                                     "normalized_score": [""]})
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise AnoganError(f"{_name(path)}: not a readable results CSV ({exc})") from None
    missing = [c for c in ("index", "label", "score", "is_anomaly", "error") if c not in frame.columns]
    if missing:
        raise AnoganError(f"{_name(path)}: missing columns {', '.join(missing)}; is it a file written by 'anogan score'?")
    return frame


def _name(source) -> str:
    return str(getattr(source, "name", source))
