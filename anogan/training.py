"""GAN training on normal images, with per-epoch checkpoints and resume.

The train step is the document's: two ``GradientTape``s, noise ~ N(0, 1),
``BinaryCrossentropy(from_logits=True)`` and two ``Adam(1e-4)``.

A run directory collects, epoch by epoch:

* ``history.csv``: losses, seconds and img/s per epoch;
* ``samples/epoch_NNNN.png``: an 8x8 grid from a fixed noise batch;
* ``checkpoints/``: the last complete epoch (models, optimiser state,
  noise-generator state), named by ``checkpoints/latest.json``;

and, when the last epoch is done, the model bundle (``generator.keras``,
``discriminator.keras``, ``bundle.json``). Every file is written to a
temporary name and renamed, so a run killed at any moment resumes from its
last complete epoch with ``resume=True``.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Optional

import numpy as np

from anogan.artifacts import (
    Bundle,
    atomic_path,
    load_bundle,
    library_versions,
    load_model_file,
    save_model_atomic,
    write_csv_atomic,
    write_json_atomic,
)
from anogan.data import OneClassSplit, load_dataset, one_class_split, to_model_range
from anogan.errors import AnoganError
from anogan.images import IMAGE_SIZE, save_image
from anogan.scoring import ENCODER_METHODS

HISTORY_COLUMNS = ("epoch", "gen_loss", "disc_loss", "seconds", "images_per_second")
SAMPLE_GRID = 8
RUN_CONFIG_FILE = "run.json"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored in ``run.json`` and the bundle)."""

    dataset: str
    normal: tuple[str, ...]
    epochs: int
    data: Optional[str] = None
    batch_size: int = 256
    seed: int = 0
    latent_dim: int = 100
    val_fraction: float = 0.1
    jit_compile: bool = False
    precision: str = "float32"

    def validate(self) -> None:
        if self.epochs < 1:
            raise AnoganError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise AnoganError(f"batch size must be at least 1, got {self.batch_size}")
        if self.latent_dim < 1:
            raise AnoganError(f"latent size must be at least 1, got {self.latent_dim}")
        from anogan.models import _check_precision

        _check_precision(self.precision)

    def resume_key(self) -> dict:
        """The settings a resumed run must share with the original (all but ``epochs``)."""
        key = asdict(self)
        key.pop("epochs")
        key["normal"] = list(self.normal)
        return key


class GANTrainer:
    """The document's DCGAN training step around a generator and a discriminator.

    Args:
        generator, discriminator: Keras models from :mod:`anogan.models`.
        seed: seeds the training noise.
        jit_compile: compile the step with XLA. Off by default: on the 2-core
            CPUs we measured, the plain ``tf.function`` graph trains about
            1.8x faster than XLA at batch 256.
    """

    def __init__(self, generator, discriminator, seed: int = 0, jit_compile: bool = False):
        import keras
        import tensorflow as tf

        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.input_shape[-1])
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.generator_optimizer = keras.optimizers.Adam(1e-4)
        self.discriminator_optimizer = keras.optimizers.Adam(1e-4)
        self.generator_optimizer.build(generator.trainable_variables)
        self.discriminator_optimizer.build(discriminator.trainable_variables)
        self.noise = tf.random.Generator.from_seed(seed)
        self.train_step = tf.function(self._train_step, jit_compile=jit_compile)

    def generator_loss(self, fake_output):
        import tensorflow as tf

        return self.cross_entropy(tf.ones_like(fake_output), fake_output)

    def discriminator_loss(self, real_output, fake_output):
        import tensorflow as tf

        real_loss = self.cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = self.cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def _train_step(self, images):
        import tensorflow as tf

        noise = self.noise.normal([tf.shape(images)[0], self.latent_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = self.generator(noise, training=True)
            real_output = self.discriminator(images, training=True)
            fake_output = self.discriminator(generated_images, training=True)
            gen_loss = self.generator_loss(fake_output)
            disc_loss = self.discriminator_loss(real_output, fake_output)
        gen_gradients = gen_tape.gradient(gen_loss, self.generator.trainable_variables)
        disc_gradients = disc_tape.gradient(disc_loss, self.discriminator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gen_gradients, self.generator.trainable_variables))
        self.discriminator_optimizer.apply_gradients(
            zip(disc_gradients, self.discriminator.trainable_variables)
        )
        return gen_loss, disc_loss

    def optimizer_state(self) -> dict[str, np.ndarray]:
        state = {}
        for name, optimizer in (("gen", self.generator_optimizer), ("disc", self.discriminator_optimizer)):
            for i, variable in enumerate(optimizer.variables):
                state[f"{name}_{i:04d}"] = np.asarray(variable)
        state["noise_state"] = self.noise.state.numpy()
        return state

    def restore_optimizer_state(self, state: dict[str, np.ndarray]) -> None:
        for name, optimizer in (("gen", self.generator_optimizer), ("disc", self.discriminator_optimizer)):
            keys = sorted(k for k in state if k.startswith(f"{name}_"))
            if len(keys) != len(optimizer.variables):
                raise AnoganError("checkpoint optimiser state does not match the model")
            for key, variable in zip(keys, optimizer.variables):
                variable.assign(state[key])
        self.noise.reset(state["noise_state"])


def sample_grid(generator, noise: np.ndarray) -> np.ndarray:
    """Generate images for ``noise`` and tile them into one ``uint8`` grid."""
    from anogan.data import from_model_range

    images = from_model_range(generator(noise, training=False).numpy())
    rows = SAMPLE_GRID
    cols = int(np.ceil(len(images) / rows))
    grid = np.zeros((rows * IMAGE_SIZE, cols * IMAGE_SIZE), dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * IMAGE_SIZE : (r + 1) * IMAGE_SIZE, c * IMAGE_SIZE : (c + 1) * IMAGE_SIZE] = image
    return grid


class RunDirectory:
    """Paths and files of one training run."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.samples = self.path / "samples"
        self.history = self.path / "history.csv"
        self.config = self.path / RUN_CONFIG_FILE

    def has_run(self) -> bool:
        return self.config.exists() or (self.path / "bundle.json").exists()

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

    def save_checkpoint(self, trainer: GANTrainer, epoch: int) -> None:
        target = self.checkpoint_dir(epoch)
        target.mkdir(parents=True, exist_ok=True)
        save_model_atomic(trainer.generator, target / "generator.keras")
        save_model_atomic(trainer.discriminator, target / "discriminator.keras")
        with atomic_path(target / "optimizers.npz") as temp:
            with open(temp, "wb") as handle:
                np.savez(handle, **trainer.optimizer_state())
        write_json_atomic(self.checkpoints / "latest.json", {"epoch": epoch, "dir": target.name})
        for old in self.checkpoints.glob("epoch-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    def load_checkpoint(self, epoch: int):
        source = self.checkpoint_dir(epoch)
        generator = load_model_file(source / "generator.keras")
        discriminator = load_model_file(source / "discriminator.keras")
        try:
            with np.load(source / "optimizers.npz", allow_pickle=False) as archive:
                state = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError) as exc:
            raise AnoganError(f"{source}: damaged optimiser checkpoint ({exc})") from None
        return generator, discriminator, state

    def read_history(self, up_to_epoch: int) -> list[dict]:
        if not self.history.is_file():
            return []
        import csv

        with open(self.history, newline="") as handle:
            rows = [row for row in csv.DictReader(handle)]
        return [row for row in rows if int(row["epoch"]) <= up_to_epoch]

    def write_history(self, rows: list[dict]) -> None:
        write_csv_atomic(self.history, HISTORY_COLUMNS, rows)


def _check_resume(run: RunDirectory, config: TrainConfig, resume: bool) -> int:
    """Return the epoch to start after; refuse to mix up runs."""
    if not run.has_run():
        return 0
    if not resume:
        raise AnoganError(
            f"{run.path} already holds a training run; pass --resume to continue it or choose another --out"
        )
    if run.config.is_file():
        # A setting added after the run was written is read as its default.
        defaults = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}
        wanted = config.resume_key()
        stored = {**{k: v for k, v in defaults.items() if k in wanted}, **json.loads(run.config.read_text())}
        if stored != wanted:
            changed = sorted(k for k in stored.keys() | wanted.keys() if stored.get(k) != wanted.get(k))
            raise AnoganError(
                f"{run.path} was trained with different settings ({', '.join(changed)}); "
                "resume with the original ones"
            )
    return run.latest_epoch()


def train(
    dataset: str,
    normal,
    epochs: int,
    out,
    data=None,
    batch_size: int = 256,
    seed: int = 0,
    latent_dim: int = 100,
    val_fraction: float = 0.1,
    jit_compile: bool = False,
    precision: str = "float32",
    resume: bool = False,
    progress: bool = True,
) -> Bundle:
    """Train the DCGAN on the normal training images and write a model bundle.

    Args:
        dataset: ``mnist``, ``fashion-mnist``, ``mnist-5k`` or ``folder``.
        normal: normal classes, by name or index (``[0]``, ``["0", "6"]``).
        epochs: total number of epochs (a resumed run trains the rest).
        out: the run directory.
        data: local data files (see :func:`anogan.data.load_dataset`).
        batch_size, seed, latent_dim, val_fraction, jit_compile, precision: see the CLI.
        resume: continue a run in ``out`` from its last complete epoch.
        progress: show a progress bar.

    Returns:
        The trained :class:`~anogan.artifacts.Bundle`.

    Example:
        >>> bundle = train("mnist-5k", normal=[0], epochs=1, out="runs/demo")  # doctest: +SKIP
    """
    config = TrainConfig(
        dataset=dataset,
        normal=tuple(str(n) for n in (normal if isinstance(normal, (list, tuple)) else [normal])),
        epochs=int(epochs),
        data=None if data is None else str(data),
        batch_size=int(batch_size),
        seed=int(seed),
        latent_dim=int(latent_dim),
        val_fraction=float(val_fraction),
        jit_compile=bool(jit_compile),
        precision=str(precision),
    )
    config.validate()
    split = one_class_split(load_dataset(dataset, data), config.normal, config.val_fraction, config.seed)
    return train_on_split(split, config, Path(out), resume=resume, progress=progress)


def train_on_split(
    split: OneClassSplit, config: TrainConfig, out: Path, resume: bool = False, progress: bool = True
) -> Bundle:
    """Train on an already loaded one-class split (see :func:`train`)."""
    import keras
    import tensorflow as tf
    from tqdm.auto import tqdm

    from anogan.models import as_float32, make_discriminator, make_generator

    run = RunDirectory(out)
    start_epoch = _check_resume(run, config, resume)
    if start_epoch >= config.epochs and (run.path / "bundle.json").is_file():
        return load_bundle(run.path)
    run.path.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run.config, config.resume_key())

    keras.utils.set_random_seed(config.seed)
    if start_epoch > 0:
        generator, discriminator, state = run.load_checkpoint(start_epoch)
        trainer = GANTrainer(generator, discriminator, config.seed, config.jit_compile)
        trainer.restore_optimizer_state(state)
    else:
        trainer = GANTrainer(
            make_generator(config.latent_dim, config.precision), make_discriminator(config.precision),
            config.seed, config.jit_compile,
        )
    history = run.read_history(start_epoch)

    images = tf.constant(to_model_range(split.x_train))
    n_images = len(split.x_train)
    fixed_noise = np.random.default_rng(config.seed).standard_normal(
        (SAMPLE_GRID * SAMPLE_GRID, config.latent_dim)
    ).astype(np.float32)
    run.samples.mkdir(exist_ok=True)

    for epoch in range(start_epoch + 1, config.epochs + 1):
        order = np.random.default_rng([config.seed, epoch]).permutation(n_images)
        batches = [order[i : i + config.batch_size] for i in range(0, n_images, config.batch_size)]
        started = time.perf_counter()
        gen_losses, disc_losses = [], []
        bar = tqdm(batches, desc=f"epoch {epoch}/{config.epochs}", unit="batch",
                   disable=None if progress else True, leave=False)
        for seen, batch in enumerate(bar, start=1):
            gen_loss, disc_loss = trainer.train_step(tf.gather(images, batch))
            gen_losses.append(float(gen_loss))
            disc_losses.append(float(disc_loss))
            elapsed = time.perf_counter() - started
            done = sum(len(b) for b in batches[:seen])
            bar.set_postfix(g=f"{gen_losses[-1]:.3f}", d=f"{disc_losses[-1]:.3f}",
                            img_s=f"{done / max(elapsed, 1e-9):.0f}")
        bar.close()
        seconds = time.perf_counter() - started
        row = {
            "epoch": epoch,
            "gen_loss": float(np.mean(gen_losses)),
            "disc_loss": float(np.mean(disc_losses)),
            "seconds": round(seconds, 3),
            "images_per_second": round(n_images / seconds, 2),
        }
        if not (np.isfinite(row["gen_loss"]) and np.isfinite(row["disc_loss"])):
            raise AnoganError(f"training diverged at epoch {epoch} (loss is NaN or infinite)")
        history.append(row)
        with atomic_path(run.samples / f"epoch_{epoch:04d}.png") as temp:
            save_image(sample_grid(trainer.generator, fixed_noise), temp)
        run.write_history(history)
        run.save_checkpoint(trainer, epoch)
        if progress:
            print(
                f"epoch {epoch}/{config.epochs}: gen_loss {row['gen_loss']:.4f} "
                f"disc_loss {row['disc_loss']:.4f} ({row['images_per_second']:.0f} img/s)",
                flush=True,
            )

    bundle = Bundle(
        path=run.path,
        metadata={
            "dataset": {"name": config.dataset, "data": config.data, "val_fraction": config.val_fraction},
            "normal_classes": list(split.normal_classes),
            "class_names": list(split.class_names),
            "image_shape": [IMAGE_SIZE, IMAGE_SIZE, 1],
            "latent_dim": config.latent_dim,
            "seed": config.seed,
            "training": {**asdict(config), "normal": list(config.normal),
                         "n_train": len(split.x_train), "n_val": len(split.x_val)},
            "versions": library_versions(),
            "calibration": {},
        },
        generator=as_float32(trainer.generator, make_generator, config.latent_dim),
        discriminator=as_float32(trainer.discriminator, make_discriminator),
    )
    bundle.save(split.x_val, split.x_train)
    return bundle


ENCODER_HISTORY_FILE = "encoder_history.csv"
ENCODER_HISTORY_COLUMNS = ("epoch", "loss", "residual", "feature", "seconds", "images_per_second")


def normal_training_images(bundle: Bundle) -> np.ndarray:
    """Reload the normal training images a bundle was trained on, from its metadata."""
    dataset = bundle.metadata.get("dataset", {})
    training = bundle.metadata.get("training", {})
    if dataset.get("name") in (None, "array"):
        raise AnoganError(f"{bundle.path}: trained on in-memory arrays; pass the training images explicitly")
    split = one_class_split(
        load_dataset(dataset["name"], dataset.get("data")),
        [str(c) for c in bundle.normal_classes],
        float(dataset.get("val_fraction", 0.1)),
        int(training.get("seed", bundle.metadata.get("seed", 0))),
    )
    return split.x_train


def train_encoder(
    bundle: Bundle,
    images: Optional[np.ndarray] = None,
    epochs: int = 20,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    kappa: float = 1.0,
    seed: int = 0,
    progress: bool = True,
) -> Bundle:
    """Train the f-AnoGAN izi_f encoder with G and D frozen, and add it to the bundle.

    Loss: MSE(x, G(E(x))) + κ·MSE(f(x), f(G(E(x)))) on normal training
    images only (reloaded from the bundle's metadata unless ``images`` is
    given). Writes ``encoder.keras`` and ``encoder_history.csv``; any stored
    calibration of the encoder-based methods is dropped, since it described
    the old encoder.

    Example:
        >>> bundle = train_encoder(load_bundle("runs/demo"), epochs=5)  # doctest: +SKIP
    """
    import keras
    import tensorflow as tf
    from tqdm.auto import tqdm

    from anogan.models import make_encoder

    if epochs < 1 or batch_size < 1:
        raise AnoganError("encoder epochs and batch size must be at least 1")
    x_train = normal_training_images(bundle) if images is None else images
    x = tf.constant(to_model_range(x_train))
    keras.utils.set_random_seed(seed)
    encoder = make_encoder(bundle.latent_dim)
    optimizer = keras.optimizers.Adam(learning_rate)
    generator, features = bundle.generator, bundle.feature_extractor

    @tf.function
    def encoder_step(batch):
        with tf.GradientTape() as tape:
            generated = generator(encoder(batch, training=True), training=False)
            residual = tf.reduce_mean(tf.square(batch - generated))
            feature = tf.reduce_mean(tf.square(features(batch, training=False) - features(generated, training=False)))
            loss = residual + kappa * feature
        optimizer.apply_gradients(zip(tape.gradient(loss, encoder.trainable_variables), encoder.trainable_variables))
        return loss, residual, feature

    rows = []
    for epoch in range(1, epochs + 1):
        order = np.random.default_rng([seed, epoch]).permutation(len(x_train))
        started = time.perf_counter()
        totals = np.zeros(3)
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for batch in tqdm(batches, desc=f"encoder epoch {epoch}/{epochs}", unit="batch",
                          disable=None if progress else True, leave=False):
            totals += np.array([float(v) for v in encoder_step(tf.gather(x, batch))]) * len(batch)
        seconds = time.perf_counter() - started
        loss, residual, feature = totals / len(order)
        if not np.isfinite(loss):
            raise AnoganError(f"encoder training diverged at epoch {epoch}")
        rows.append({"epoch": epoch, "loss": loss, "residual": residual, "feature": feature,
                     "seconds": round(seconds, 3), "images_per_second": round(len(order) / seconds, 2)})
        if progress:
            print(f"encoder epoch {epoch}/{epochs}: loss {loss:.4f} "
                  f"(residual {residual:.4f}, feature {feature:.4f}; {rows[-1]['images_per_second']:.0f} img/s)",
                  flush=True)
    write_csv_atomic(bundle.path / ENCODER_HISTORY_FILE, ENCODER_HISTORY_COLUMNS, rows)
    bundle.metadata["encoder"] = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                                  "kappa": kappa, "seed": seed, "n_train": len(x_train)}
    calibration = bundle.metadata.get("calibration", {})
    for method in ENCODER_METHODS:
        calibration.pop(method, None)
    bundle.set_encoder(encoder)
    return bundle
