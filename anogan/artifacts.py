"""Model bundles: one directory per run, safe to load.

A bundle directory holds the generator and discriminator (and, once trained,
the encoder) as Keras 3 ``.keras`` files, the held-out normal validation
images (``validation.npz``, so that calibration never needs the original
data again), the normal training images the ``feature-knn`` method compares
against (``reference.npz``) and ``bundle.json``: dataset,
normal classes, shapes, seed, training settings, library versions, a SHA-256
of every model file, and the scoring calibration (settings, thresholds,
score statistics) added after training.

Loading never runs code from the bundle: ``bundle.json`` is plain JSON, the
models load with Keras ``safe_mode=True`` (no lambdas, no pickle), and a
model file whose hash does not match is refused.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from anogan.errors import AnoganError

SCHEMA_VERSION = 1
BUNDLE_FORMAT = "anogan-bundle"
METADATA_FILE = "bundle.json"
MODEL_FILES = {"generator": "generator.keras", "discriminator": "discriminator.keras", "encoder": "encoder.keras"}
REQUIRED_MODELS = ("generator", "discriminator")
VALIDATION_FILE = "validation.npz"
REFERENCE_FILE = "reference.npz"
MAX_REFERENCE_IMAGES = 10_000
# The scoring methods that run the encoder: their calibrations describe one encoder and go when it is replaced.
ENCODER_METHODS = ("encoder", "hybrid")
HISTORY_COLUMNS = ("epoch", "gen_loss", "disc_loss", "seconds", "images_per_second")
ENCODER_HISTORY_COLUMNS = ("epoch", "loss", "residual", "feature", "seconds", "images_per_second")


@contextlib.contextmanager
def atomic_path(target: os.PathLike | str) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success.

    A process killed while writing leaves at most a stray temporary file,
    never a half-written ``target``. The temporary name keeps the target's
    suffix, since Keras chooses the format from it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
    )
    os.close(handle)
    temp = Path(temp_name)
    try:
        yield temp
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def write_text_atomic(target: os.PathLike | str, text: str) -> None:
    with atomic_path(target) as temp:
        temp.write_text(text, encoding="utf-8")


def write_csv_atomic(target: os.PathLike | str, columns: tuple[str, ...], rows: list[dict]) -> None:
    """Write a small table (history files) in one atomic step."""
    lines = [",".join(columns)] + [",".join(str(row[c]) for c in columns) for row in rows]
    write_text_atomic(target, "\n".join(lines) + "\n")


def write_json_atomic(target: os.PathLike | str, payload: dict) -> None:
    write_text_atomic(target, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def save_model_atomic(model, target: os.PathLike | str) -> str:
    """Save a Keras model to ``target`` atomically; return the file's SHA-256."""
    with atomic_path(target) as temp:
        model.save(temp)
    return sha256_file(target)


def sha256_file(path: os.PathLike | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("anogan", "tensorflow", "keras", "numpy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            with contextlib.suppress(PackageNotFoundError):
                versions[package] = version(f"{package}-cpu")
    return versions


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
        """The normal training images (at most :data:`MAX_REFERENCE_IMAGES`) stored with the bundle."""
        if self._reference is not None:
            return self._reference
        return self._read_images(REFERENCE_FILE)

    def set_reference(self, images: np.ndarray) -> None:
        """Store the normal training images in a bundle saved without them (bundles from before ``reference.npz``).

        A bundle that cannot be written keeps them in memory, with a warning.
        """
        self._reference = reference_subset(images)
        try:
            self.metadata.setdefault("files", {})[REFERENCE_FILE] = self._write_images(REFERENCE_FILE, self._reference)
            self.save_metadata()
        except OSError as exc:
            import logging

            logging.getLogger(__name__).warning("could not store the reference images in %s: %s", self.path, exc)

    def _write_images(self, filename: str, images: np.ndarray) -> str:
        with atomic_path(self.path / filename) as temp:
            with open(temp, "wb") as handle:
                np.savez_compressed(handle, x=np.asarray(images, dtype=np.uint8))
        return sha256_file(self.path / filename)

    def _read_images(self, filename: str) -> np.ndarray:
        path = self.path / filename
        expected = self.metadata["files"].get(filename)
        if expected is None or not path.is_file():
            raise AnoganError(f"{self.path}: bundle has no {filename}")
        if sha256_file(path) != expected:
            raise AnoganError(f"{path}: contents do not match the hash in {METADATA_FILE} (modified or damaged)")
        with np.load(path, allow_pickle=False) as archive:
            return archive["x"]

    def save_metadata(self) -> None:
        self.metadata.setdefault("schema_version", SCHEMA_VERSION)
        self.metadata.setdefault("format", BUNDLE_FORMAT)
        write_json_atomic(self.path / METADATA_FILE, self.metadata)

    def run_directory(self) -> "RunDirectory":
        return RunDirectory(self.path)

    def set_encoder(self, encoder) -> None:
        """Attach a trained encoder and write it into the bundle, dropping calibrations made with the old one."""
        calibration = self.metadata.get("calibration", {})
        for method in ENCODER_METHODS:
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
    ``encoder_history.csv`` (one row per epoch), ``samples/epoch_NNNN.png``,
    ``checkpoints/`` (the last complete epoch) and the bundle files.
    """

    def __init__(self, path: os.PathLike | str):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.samples = self.path / "samples"
        self.history = self.path / "history.csv"
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


def resolve_under(root: os.PathLike | str, candidate: os.PathLike | str) -> Path:
    """``candidate`` (absolute or relative to ``root``) resolved, refused unless it lies inside ``root``.

    Guards user-chosen paths (dashboard selections, uploads) against ``..``
    and symlinks that lead out of the runs directory.
    """
    root = Path(root).resolve()
    path = Path(candidate)
    resolved = (path if path.is_absolute() else root / path).resolve()
    if resolved != root and root not in resolved.parents:
        raise AnoganError(f"{candidate}: outside the runs directory {root}")
    return resolved


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
