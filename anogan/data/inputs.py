"""Inputs for batch scoring: folders, array files and dataset splits, decoded lazily.

:func:`open_input` accepts

* a folder of images, recursive; the name of an image's parent folder is its
  ``class`` (``data/samples/0/x.png`` has class ``0``);
* an ``.npz`` with ``x`` (and optional ``y``), or a Keras-layout dataset
  ``.npz`` (its ``x_test``/``y_test``);
* a dataset split ``NAME:SPLIT`` such as ``mnist:test`` (``--data`` as for
  training).

Every input is an :class:`InputItem`: its image, or the reason it could not be
decoded, its class, and a path: the file's, or ``SPEC#INDEX`` for an image of
an array input (``mnist:test#755``, ``scans.npz#3``). :func:`label_for` turns a class into ``normal`` or
``anomaly`` for a bundle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from anogan.data.datasets import DATASETS, load_dataset, read_npz_arrays, validate_images, validate_labels
from anogan.data.images import IMAGE_SUFFIXES, list_image_files, read_image
from anogan.errors import AnoganError, ImageError

NORMAL_WORDS = {"normal", "good", "ok"}
ANOMALY_WORDS = {"anomaly", "anomalous", "abnormal", "bad", "defect"}
SPLITS = ("train", "test")


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
    _name: str = ""

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
            return InputItem(index=index, path=f"{self._name}#{index}", class_name=class_name,
                             image=self._images[index])
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
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in paths):
            found = f" ({len(paths)} other files)" if paths else ""
            raise AnoganError(f"no image files found in {path} or its subfolders{found}; images end in "
                              f"{', '.join(IMAGE_SUFFIXES)}")
        return InputSource(f"folder {path}", len(paths), _paths=paths, _root=path,
                           _indices=_sample(len(paths), limit, sample_seed))
    if path.is_file():
        images, labels = _read_npz_input(path)
        classes = None if labels is None else [str(v) for v in labels]
        return InputSource(f"array file {path}", len(images), _images=images, _classes=classes,
                           _indices=_sample(len(images), limit, sample_seed), _name=str(path))
    name, _, split = spec.partition(":")
    if name in DATASETS and split in SPLITS:
        dataset = load_dataset(name, data)
        images = dataset.x_test if split == "test" else dataset.x_train
        labels = dataset.y_test if split == "test" else dataset.y_train
        classes = [dataset.class_names[v] for v in labels]
        return InputSource(f"{name} {split} split", len(images), _images=images, _classes=classes,
                           _indices=_sample(len(images), limit, sample_seed), _name=spec)
    raise AnoganError(
        f"input {spec!r} is not a folder, a file, or a dataset split like mnist:test "
        f"(datasets: {', '.join(DATASETS)}; splits: {', '.join(SPLITS)})"
    )


def array_item(path: str) -> Optional[tuple[str, int]]:
    """``("mnist:test", 755)`` for the row path ``mnist:test#755`` of an array input (split or ``.npz``), else ``None``.

    Example:
        >>> array_item("mnist:test#755")
        ('mnist:test', 755)
    """
    spec, hash_sign, index = str(path).rpartition("#")
    return (spec, int(index)) if hash_sign and spec and index.isdigit() else None


def _read_npz_input(path: Path) -> tuple[np.ndarray, Optional[np.ndarray]]:
    if path.suffix.lower() != ".npz":
        raise AnoganError(f"{path}: a single input file must be an .npz array file (score images as a folder)")
    arrays = read_npz_arrays(path, ("x", "y", "x_test", "y_test"))
    keys = ("x", "y") if "x" in arrays else ("x_test", "y_test")
    if keys[0] not in arrays:
        raise AnoganError(f"{path}: no array 'x' (or 'x_test')")
    images = validate_images(arrays[keys[0]], f"{path}: {keys[0]}")
    labels = arrays.get(keys[1])
    if labels is not None:
        labels = validate_labels(labels, len(images), f"{path}: {keys[1]}")
    return images, labels


def decode_uploads(files: Sequence[tuple[str, bytes]]) -> list[InputItem]:
    """In-memory files (name, bytes), e.g. dashboard uploads, as inputs; a bad file keeps its error."""
    items = []
    for index, (name, content) in enumerate(files):
        try:
            items.append(InputItem(index=index, path=name, image=read_image(content)))
        except ImageError as exc:
            items.append(InputItem(index=index, path=name, error=str(exc)))
    return items


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
