"""Model bundles: one directory per run, safe to load.

A bundle directory holds the generator and discriminator (and, once trained,
the encoder) as Keras 3 ``.keras`` files, the held-out normal validation
images (``validation.npz``, so that calibration never needs the original
data again), the normal training images the scorers compare against
(``reference.npz``) and ``bundle.json``: dataset, normal classes, shapes,
seed, training settings and recipe, library versions, a SHA-256 of every
file, and the scoring calibrations added after training.

Loading never runs code from the bundle: ``bundle.json`` is plain JSON, the
models load with Keras ``safe_mode=True``, the arrays with
``allow_pickle=False``, and a file whose hash differs is refused.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from anogan.data.protocol import normal_training_images
from anogan.errors import AnoganError
from anogan.storage import atomic_path, library_versions, save_model_atomic, sha256_file, write_json_atomic

SCHEMA_VERSION = 1
BUNDLE_FORMAT = "anogan-bundle"
METADATA_FILE = "bundle.json"
MODEL_FILES = {"generator": "generator.keras", "discriminator": "discriminator.keras", "encoder": "encoder.keras"}
REQUIRED_MODELS = ("generator", "discriminator")
VALIDATION_FILE = "validation.npz"
REFERENCE_FILE = "reference.npz"
SCORER_STATE_PREFIX = "scorer_state_"
MAX_REFERENCE_IMAGES = 10_000
HISTORY_COLUMNS = ("epoch", "gen_loss", "disc_loss", "seconds", "images_per_second")
ENCODER_HISTORY_COLUMNS = ("epoch", "loss", "residual", "feature", "seconds", "images_per_second")


def load_model_file(path: Path, expected_sha256: Optional[str] = None):
    """Load one ``.keras`` file with ``safe_mode=True`` after checking its hash."""
    import keras

    if not path.is_file():
        raise AnoganError(f"bundle file missing: {path}")
    if expected_sha256 is not None and sha256_file(path) != expected_sha256:
        raise AnoganError(f"{path}: contents do not match the hash in {METADATA_FILE} (modified or damaged)")
    try:
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise AnoganError(f"{path}: cannot load model ({type(exc).__name__}: {exc})") from None


@dataclass
class Bundle:
    """A trained run: models plus metadata.

    Attributes:
        path: the bundle directory.
        metadata: the parsed ``bundle.json``.
        generator, discriminator: the GAN.
        encoder: the f-AnoGAN encoder, or ``None`` before ``train-encoder``.
    """

    path: Path
    metadata: dict[str, Any]
    generator: Any
    discriminator: Any
    encoder: Any = None
    _reference: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def latent_dim(self) -> int:
        return int(self.metadata["latent_dim"])

    @property
    def normal_classes(self) -> list[int]:
        return list(self.metadata["normal_classes"])

    @property
    def class_names(self) -> list[str]:
        return list(self.metadata["class_names"])

    def save(self, validation_images: np.ndarray, reference_images: Optional[np.ndarray] = None) -> None:
        """Write every model, the image sets and ``bundle.json`` (last, so it never names a missing file)."""
        self.path.mkdir(parents=True, exist_ok=True)
        hashes = {}
        for role, filename in MODEL_FILES.items():
            model = getattr(self, role)
            if model is not None:
                hashes[filename] = save_model_atomic(model, self.path / filename)
        hashes[VALIDATION_FILE] = self._write_images(VALIDATION_FILE, validation_images)
        if reference_images is not None:
            hashes[REFERENCE_FILE] = self._write_images(REFERENCE_FILE, reference_subset(reference_images))
        self.metadata["files"] = hashes
        self.save_metadata()

    def validation_images(self) -> np.ndarray:
        """The held-out normal validation images (``uint8``, ``(N, 28, 28)``) stored with the bundle."""
        return self._read_images(VALIDATION_FILE)

    def has_reference(self) -> bool:
        return self._reference is not None or REFERENCE_FILE in self.metadata.get("files", {})

    def reference_images(self) -> np.ndarray:
        """The normal training images (at most :data:`MAX_REFERENCE_IMAGES`) stored with the bundle.

        Read and checked once, then kept: the input check, the latent bank and ``feature-knn`` all use them.
        """
        if self._reference is None:
            self._reference = self._read_images(REFERENCE_FILE)
        return self._reference

    def set_reference(self, images: np.ndarray) -> None:
        """Store the normal training images in a bundle saved without them (bundles from before ``reference.npz``).

        A bundle that cannot be written keeps them in memory, with a warning.
        """
        self._reference = reference_subset(images)
        try:
            self.metadata.setdefault("files", {})[REFERENCE_FILE] = self._write_images(REFERENCE_FILE, self._reference)
            self.save_metadata()
        except OSError as exc:
            logging.getLogger(__name__).warning("could not store the reference images in %s: %s", self.path, exc)

    def _write_images(self, filename: str, images: np.ndarray) -> str:
        return self._write_arrays(filename, {"x": np.asarray(images, dtype=np.uint8)})

    def _read_images(self, filename: str) -> np.ndarray:
        return self._read_arrays(filename)["x"]

    def _write_arrays(self, filename: str, arrays: dict[str, np.ndarray]) -> str:
        with atomic_path(self.path / filename) as temp:
            with open(temp, "wb") as handle:
                np.savez_compressed(handle, **arrays)
        return sha256_file(self.path / filename)

    def _read_arrays(self, filename: str) -> dict[str, np.ndarray]:
        path = self.path / filename
        expected = self.metadata["files"].get(filename)
        if expected is None or not path.is_file():
            raise AnoganError(f"{self.path}: bundle has no {filename}")
        if sha256_file(path) != expected:
            raise AnoganError(f"{path}: contents do not match the hash in {METADATA_FILE} (modified or damaged)")
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}

    def scorer_state(self, key: str) -> Optional[dict[str, np.ndarray]]:
        """The arrays a scorer stored under ``key`` (see :meth:`set_scorer_state`), or ``None``."""
        filename = f"{SCORER_STATE_PREFIX}{key}.npz"
        return self._read_arrays(filename) if filename in self.metadata.get("files", {}) else None

    def set_scorer_state(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Store a scorer's heavy state (e.g. its pruned latent bank) with the bundle, checked by hash like every
        file, so the next process takes it instead of rebuilding it. A bundle that cannot be written goes on
        without it."""
        filename = f"{SCORER_STATE_PREFIX}{key}.npz"
        try:
            self.metadata.setdefault("files", {})[filename] = self._write_arrays(filename, arrays)
            self.save_metadata()
        except OSError as exc:
            logging.getLogger(__name__).warning("could not store the scorer's state in %s: %s", self.path, exc)

    def save_metadata(self) -> None:
        self.metadata.setdefault("schema_version", SCHEMA_VERSION)
        self.metadata.setdefault("format", BUNDLE_FORMAT)
        write_json_atomic(self.path / METADATA_FILE, self.metadata)

    def run_directory(self) -> "RunDirectory":
        return RunDirectory(self.path)

    def set_encoder(self, encoder, stale_calibrations: Sequence[str] = ()) -> None:
        """Attach a trained encoder and write it into the bundle, dropping the calibrations of
        ``stale_calibrations``, the methods that used the old one."""
        calibration = self.metadata.get("calibration", {})
        for method in stale_calibrations:
            calibration.pop(method, None)
        self.encoder = encoder
        filename = MODEL_FILES["encoder"]
        self.metadata.setdefault("files", {})[filename] = save_model_atomic(encoder, self.path / filename)
        self.save_metadata()


def bundle_metadata(training: dict, normal_classes, class_names, image_shape, n_train: int,
                    n_val: int) -> dict[str, Any]:
    """The ``bundle.json`` contents of a freshly trained GAN, from its training settings (``TrainConfig``)."""
    return {
        "dataset": {"name": training["dataset"], "data": training["data"], "val_fraction": training["val_fraction"]},
        "normal_classes": [int(c) for c in normal_classes],
        "class_names": list(class_names),
        "image_shape": list(image_shape),
        "latent_dim": training["latent_dim"],
        "seed": training["seed"],
        "training": {**training, "normal": list(training["normal"]), "n_train": n_train, "n_val": n_val},
        "versions": library_versions(),
        "calibration": {},
    }


class RunDirectory:
    """The files of one run folder, named in one place.

    ``run.json`` (training settings), ``history.csv`` and
    ``encoder_history.csv`` (one row per epoch), ``health.json`` (generation
    metrics' floor and health events), ``tensorboard/`` (event files),
    ``samples/epoch_NNNN.png``,
    ``checkpoints/`` (the last complete epoch) and the bundle files.
    """

    def __init__(self, path: os.PathLike | str):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.samples = self.path / "samples"
        self.history = self.path / "history.csv"
        self.tensorboard = self.path / "tensorboard"
        self.encoder_history = self.path / "encoder_history.csv"
        self.config = self.path / "run.json"
        self.bundle_file = self.path / METADATA_FILE

    def has_run(self) -> bool:
        return self.config.exists() or self.bundle_file.exists()

    def write_config(self, settings: dict) -> None:
        write_json_atomic(self.config, settings)

    def sample_grids(self) -> list[Path]:
        return sorted(self.samples.glob("epoch_*.png"))

    def latest_epoch(self) -> int:
        pointer = self.checkpoints / "latest.json"
        if not pointer.is_file():
            return 0
        try:
            return int(json.loads(pointer.read_text())["epoch"])
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            raise AnoganError(f"{pointer}: damaged checkpoint pointer") from None

    def checkpoint_dir(self, epoch: int) -> Path:
        return self.checkpoints / f"epoch-{epoch:04d}"

    def save_checkpoint(self, epoch: int, models: dict[str, Any], state: dict[str, np.ndarray]) -> None:
        """Save ``models`` (name -> Keras model) and ``state`` arrays as epoch ``epoch``; keep only that one."""
        target = self.checkpoint_dir(epoch)
        target.mkdir(parents=True, exist_ok=True)
        for name, model in models.items():
            save_model_atomic(model, target / f"{name}.keras")
        with atomic_path(target / "optimizers.npz") as temp:
            with open(temp, "wb") as handle:
                np.savez(handle, **state)
        write_json_atomic(self.checkpoints / "latest.json",
                          {"epoch": epoch, "dir": target.name, "models": sorted(models)})
        for old in self.checkpoints.glob("epoch-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    def load_checkpoint(self, epoch: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The models and state arrays saved as epoch ``epoch``."""
        source = self.checkpoint_dir(epoch)
        names = json.loads((self.checkpoints / "latest.json").read_text()).get(
            "models", ["discriminator", "generator"])
        models = {name: load_model_file(source / f"{name}.keras") for name in names}
        try:
            with np.load(source / "optimizers.npz", allow_pickle=False) as archive:
                state = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError) as exc:
            raise AnoganError(f"{source}: damaged checkpoint state ({exc})") from None
        return models, state

    @staticmethod
    def read_history(path: Path, up_to_epoch: Optional[int] = None) -> list[dict]:
        """The rows of a history CSV (up to an epoch), or none when it does not exist."""
        if not path.is_file():
            return []
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        return [row for row in rows if up_to_epoch is None or int(row["epoch"]) <= up_to_epoch]

    def seconds(self, path: Path) -> float:
        """Total seconds of the epochs in a history CSV (0 when it does not exist)."""
        return float(sum(float(row["seconds"]) for row in self.read_history(path)))


def reference_subset(images: np.ndarray, limit: int = MAX_REFERENCE_IMAGES) -> np.ndarray:
    """``images`` unchanged, or a fixed seeded subset of ``limit`` of them (keeps memory bounded)."""
    images = np.asarray(images)
    if len(images) <= limit:
        return images
    return images[np.sort(np.random.default_rng(0).choice(len(images), limit, replace=False))]


def read_metadata(path: os.PathLike | str) -> dict[str, Any]:
    """Read and validate ``bundle.json`` of the bundle directory ``path``."""
    path = Path(path)
    if not path.is_dir():
        raise AnoganError(f"model bundle not found: {path} is not a directory")
    metadata_path = path / METADATA_FILE
    if not metadata_path.is_file():
        hint = " (training did not finish: rerun it with --resume)" if (path / "checkpoints").is_dir() else ""
        raise AnoganError(f"{path}: no {METADATA_FILE}, not a model bundle{hint}")
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AnoganError(f"{metadata_path}: damaged metadata ({exc})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != BUNDLE_FORMAT:
        raise AnoganError(f"{metadata_path}: not an anogan bundle")
    if metadata.get("schema_version") != SCHEMA_VERSION:
        raise AnoganError(
            f"{metadata_path}: schema version {metadata.get('schema_version')!r} is not supported "
            f"(this anogan reads version {SCHEMA_VERSION})"
        )
    required = ("latent_dim", "normal_classes", "class_names", "image_shape", "files")
    missing = [key for key in required if key not in metadata]
    if missing:
        raise AnoganError(f"{metadata_path}: missing fields {', '.join(missing)}")
    if not isinstance(metadata["files"], dict):
        raise AnoganError(f"{metadata_path}: 'files' must map file names to SHA-256 hashes")
    return metadata


def find_bundles(root: os.PathLike | str, max_depth: int = 3) -> list[Path]:
    """Bundle directories (holding ``bundle.json``) below ``root``, at most ``max_depth`` levels down."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for depth in range(max_depth + 1):
        pattern = "/".join(["*"] * depth + [METADATA_FILE])
        found.extend(p.parent for p in root.glob(pattern))
    return sorted(set(found))


def load_bundle(path: os.PathLike | str) -> Bundle:
    """Load a model bundle safely.

    Example:
        >>> bundle = load_bundle("runs/mnist5k-0")  # doctest: +SKIP
        >>> bundle.generator.output_shape
        (None, 28, 28, 1)
    """
    path = Path(path)
    metadata = read_metadata(path)
    hashes = metadata["files"]
    models = {}
    for role, filename in MODEL_FILES.items():
        if filename not in hashes:
            if role in REQUIRED_MODELS:
                raise AnoganError(f"{path}: {METADATA_FILE} lists no {filename}")
            continue
        models[role] = load_model_file(path / filename, hashes[filename])
    return Bundle(path=path, metadata=metadata, **models)


def open_bundle(path) -> Bundle:
    """Load the bundle at ``path`` for scoring (see :func:`add_missing_reference`)."""
    return add_missing_reference(load_bundle(path))


def add_missing_reference(bundle: Bundle) -> Bundle:
    """Give a bundle saved before bundles kept their normal training images those images, from its training data.

    A bundle trained on in-memory arrays, or whose data cannot be found, is
    returned as it is: every method but ``feature-knn`` and a pruned latent bank still works.
    """
    if bundle.has_reference():
        return bundle
    try:
        bundle.set_reference(normal_training_images(bundle.metadata))
    except AnoganError as exc:
        logging.getLogger(__name__).warning("%s has no reference images (for feature-knn, --prune-bank): %s",
                                            bundle.path, exc)
    return bundle
