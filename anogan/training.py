"""GAN and encoder training on normal images: one epoch loop, callbacks, checkpoints and resume.

The GAN's train step is the document's: two ``GradientTape``s, noise ~ N(0, 1),
``BinaryCrossentropy(from_logits=True)`` and two ``Adam(1e-4)``. The f-AnoGAN
encoder trains with G and D frozen. Both run through :func:`run_epochs`, which
shuffles with a seed per epoch and hands each epoch's row to callbacks (the
keras-io / Lightning shape): history files, sample grids, checkpoints and
progress lines (logged to ``anogan.progress``).

A run directory (:class:`~anogan.artifacts.RunDirectory`) collects, epoch by
epoch, ``history.csv``, ``samples/epoch_NNNN.png`` (an 8x8 grid from fixed
noise) and ``checkpoints/`` (the last complete epoch: models, optimiser state,
noise-generator state), and, when the last epoch is done, the model bundle.
Every file is written to a temporary name and renamed, so a run killed at any
moment resumes from its last complete epoch with ``resume=True``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import MISSING, asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from anogan.artifacts import (
    ENCODER_HISTORY_COLUMNS,
    HISTORY_COLUMNS,
    Bundle,
    RunDirectory,
    atomic_path,
    bundle_metadata,
    load_bundle,
    write_csv_atomic,
)
from anogan.data import OneClassSplit, load_dataset, normal_training_images, one_class_split, to_model_range
from anogan.errors import AnoganError
from anogan.images import IMAGE_SIZE, save_image

progress_log = logging.getLogger("anogan.progress")
SAMPLE_GRID = 8
# the document's Adam(1e-4), with Keras' default beta_1
GAN_LEARNING_RATE = 1e-4
GAN_BETA_1 = 0.9
# A checkpoint costs about a second; on short epochs one every epoch would double the training time.
CHECKPOINT_SECONDS = 30.0


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored in ``run.json`` and the bundle).

    Example:
        >>> TrainConfig("mnist-5k", normal=[0], epochs=3).normal
        ('0',)
    """

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
    generator_ema: float = 0.0
    discriminator_ema: float = 0.0
    learning_rate: float = GAN_LEARNING_RATE
    beta_1: float = GAN_BETA_1
    min_steps: int = 0
    recipe: Optional[dict] = None

    def __post_init__(self):
        normal = self.normal if isinstance(self.normal, (list, tuple)) else [self.normal]
        object.__setattr__(self, "normal", tuple(str(n) for n in normal))
        if self.data is not None:
            object.__setattr__(self, "data", str(self.data))
        from anogan.models import check_precision

        if self.epochs < 1:
            raise AnoganError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise AnoganError(f"batch size must be at least 1, got {self.batch_size}")
        if self.latent_dim < 1:
            raise AnoganError(f"latent size must be at least 1, got {self.latent_dim}")
        check_precision(self.precision)
        for role in ("generator", "discriminator"):
            momentum = getattr(self, f"{role}_ema")
            if not 0.0 <= momentum < 1.0:
                raise AnoganError(f"the {role}'s EMA momentum must be in [0, 1), got {momentum}")
        if self.min_steps < 0:
            raise AnoganError(f"the minimum number of steps must be >= 0, got {self.min_steps}")
        if self.learning_rate <= 0:
            raise AnoganError(f"the GAN learning rate must be > 0, got {self.learning_rate}")
        if not 0.0 <= self.beta_1 < 1.0:
            raise AnoganError(f"Adam's beta_1 must be in [0, 1), got {self.beta_1}")

    def resume_key(self) -> dict:
        """The settings a resumed run must share with the original (all but ``epochs`` and the recipe's label)."""
        key = asdict(self)
        key.pop("epochs")
        key.pop("recipe")
        key["normal"] = list(self.normal)
        return key

    def epochs_for(self, n_train: int) -> int:
        """The epochs to train on ``n_train`` images: ``epochs``, raised on a small set to reach ``min_steps``.

        Example:
            >>> TrainConfig("mnist-5k", [0], epochs=20, batch_size=64, min_steps=1500).epochs_for(300)
            300
        """
        steps_per_epoch = max(1, math.ceil(n_train / self.batch_size))
        return max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))


def _adam(ema_momentum: float, learning_rate: float, beta_1: float):
    """Adam (the document's: 1e-4, Keras' beta_1 0.9), keeping a moving average of the weights when
    ``ema_momentum`` > 0."""
    import keras

    if ema_momentum > 0:
        return keras.optimizers.Adam(learning_rate, beta_1=beta_1, use_ema=True, ema_momentum=ema_momentum)
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1)


class GANTrainer:
    """The document's DCGAN training step around a generator and a discriminator.

    Args:
        generator, discriminator: Keras models from :mod:`anogan.models`.
        seed: seeds the training noise.
        jit_compile: compile the step with XLA. Off by default: on the 2-core
            CPUs we measured, the plain ``tf.function`` graph trains about
            1.8x faster than XLA at batch 256.
        generator_ema: when above 0, G's optimiser also keeps an exponential
            moving average of G's weights with this momentum (Keras'
            ``use_ema``), updated after each step's update and left out of
            training; :meth:`use_weight_averages` puts it into G at the end.
        discriminator_ema: the same for D: the saved D (the scorers' feature
            map) is the average, while training uses the raw D throughout.
        learning_rate, beta_1: Adam's, for both networks (the document's
            1e-4 and Keras' 0.9 by default; DCGAN's paper used 2e-4 and 0.5).
    """

    def __init__(self, generator, discriminator, seed: int = 0, jit_compile: bool = False,
                 generator_ema: float = 0.0, discriminator_ema: float = 0.0,
                 learning_rate: float = GAN_LEARNING_RATE, beta_1: float = GAN_BETA_1):
        import keras
        import tensorflow as tf

        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.input_shape[-1])
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.generator_optimizer = _adam(generator_ema, learning_rate, beta_1)
        self.discriminator_optimizer = _adam(discriminator_ema, learning_rate, beta_1)
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

    def use_weight_averages(self) -> None:
        """Give G and D the moving averages of their weights (each a no-op without its EMA); call after training."""
        self.generator_optimizer.finalize_variable_values(self.generator.trainable_variables)
        self.discriminator_optimizer.finalize_variable_values(self.discriminator.trainable_variables)

    def _dropout_states(self) -> list:
        """The random states of the Dropout layers: not in the saved models, but a resumed run needs them
        to draw the masks an uninterrupted run would."""
        return [layer.seed_generator.state for model in (self.generator, self.discriminator)
                for layer in model.layers if hasattr(layer, "seed_generator")]

    def optimizer_state(self) -> dict[str, np.ndarray]:
        state = {}
        for name, optimizer in (("gen", self.generator_optimizer), ("disc", self.discriminator_optimizer)):
            for i, variable in enumerate(optimizer.variables):
                state[f"{name}_{i:04d}"] = np.asarray(variable)
        for i, variable in enumerate(self._dropout_states()):
            state[f"dropout_{i:04d}"] = np.asarray(variable)
        state["noise_state"] = self.noise.state.numpy()
        return state

    def restore_optimizer_state(self, state: dict[str, np.ndarray]) -> None:
        for name, optimizer in (("gen", self.generator_optimizer), ("disc", self.discriminator_optimizer)):
            keys = sorted(k for k in state if k.startswith(f"{name}_"))
            if len(keys) != len(optimizer.variables):
                raise AnoganError("checkpoint optimiser state does not match the model")
            for key, variable in zip(keys, optimizer.variables):
                variable.assign(state[key])
        # checkpoints written before the Dropout states were saved resume with fresh ones
        for key, variable in zip(sorted(k for k in state if k.startswith("dropout_")), self._dropout_states()):
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


class Callback:
    """A hook of :func:`run_epochs`; called after every complete epoch with that epoch's row."""

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        raise NotImplementedError


class WriteHistory(Callback):
    """Keep ``rows`` (earlier epochs of a resumed run first) and rewrite the history CSV after each epoch."""

    def __init__(self, path: Path, columns: Sequence[str], rows: Optional[list[dict]] = None):
        self.path, self.columns, self.rows = path, tuple(columns), list(rows or [])

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        self.rows.append(row)
        write_csv_atomic(self.path, self.columns, self.rows)


class WriteSampleGrid(Callback):
    """Save an 8x8 grid generated from fixed noise, so epochs can be compared by eye."""

    def __init__(self, folder: Path, generator, noise: np.ndarray):
        self.folder, self.generator, self.noise = folder, generator, noise

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        with atomic_path(self.folder / f"epoch_{epoch:04d}.png") as temp:
            save_image(sample_grid(self.generator, self.noise), temp)


class SaveCheckpoint(Callback):
    """Checkpoint the GAN and its optimisers, so an interrupted run resumes after the checkpointed epoch.

    A checkpoint (two ``.keras`` files and the optimiser state, fsynced)
    costs about a second, more than a short epoch on a few hundred images,
    so it is written after the first epoch this process trains, then when
    ``every_seconds`` have passed since the last one, and always after the
    last epoch: a killed run loses at most that much work. 0 checkpoints
    every epoch.
    """

    def __init__(self, run: RunDirectory, trainer: GANTrainer, last_epoch: int, every_seconds: float = 0.0):
        self.run, self.trainer, self.last_epoch, self.every_seconds = run, trainer, last_epoch, every_seconds
        self._saved_at: Optional[float] = None

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        now = time.monotonic()
        due = self._saved_at is None or now - self._saved_at >= self.every_seconds
        if due or epoch == self.last_epoch:
            self.run.save_checkpoint(epoch, {"generator": self.trainer.generator,
                                             "discriminator": self.trainer.discriminator},
                                     self.trainer.optimizer_state())
            self._saved_at = time.monotonic()


class LogProgress(Callback):
    """One line per epoch on the ``anogan.progress`` logger."""

    def __init__(self, name: str, epochs: int):
        self.name, self.epochs = name, epochs

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        losses = " ".join(f"{k} {v:.4f}" for k, v in row.items()
                          if k not in ("epoch", "seconds", "images_per_second"))
        progress_log.info("%s epoch %d/%d: %s (%.0f img/s)", self.name, epoch, self.epochs, losses,
                          row["images_per_second"])


def run_epochs(
    step: Callable,
    images,
    batch_size: int,
    seed: int,
    epochs: int,
    first_epoch: int = 1,
    callbacks: Sequence[Callback] = (),
    name: str = "training",
    progress: bool = True,
) -> None:
    """Run ``step`` on seeded shuffles of ``images`` for epochs ``first_epoch`` to ``epochs``.

    Args:
        step: one optimisation step, ``step(batch) -> {loss name: scalar}``.
        images: the training images, a tensor in model range.
        batch_size, seed: the epoch's order is ``default_rng([seed, epoch])``.
        callbacks: called with each epoch's row: its number, the mean of each
            loss over the epoch's images, seconds and images per second.

    Raises:
        AnoganError: when a loss becomes NaN or infinite.
    """
    import tensorflow as tf
    from tqdm.auto import tqdm

    n_images = int(images.shape[0])
    for epoch in range(first_epoch, epochs + 1):
        order = np.random.default_rng([seed, epoch]).permutation(n_images)
        batches = [order[i : i + batch_size] for i in range(0, n_images, batch_size)]
        started = time.perf_counter()
        totals: dict[str, float] = {}
        bar = tqdm(batches, desc=f"{name} epoch {epoch}/{epochs}", unit="batch",
                   disable=None if progress else True, leave=False)
        for batch in bar:
            losses = {key: float(value) for key, value in step(tf.gather(images, batch)).items()}
            for key, value in losses.items():
                totals[key] = totals.get(key, 0.0) + value * len(batch)
            bar.set_postfix({key: f"{value:.3f}" for key, value in losses.items()})
        bar.close()
        seconds = time.perf_counter() - started
        row = {"epoch": epoch, **{key: total / n_images for key, total in totals.items()},
               "seconds": round(seconds, 3), "images_per_second": round(n_images / seconds, 2)}
        if not all(np.isfinite(totals[key]) for key in totals):
            raise AnoganError(f"{name} diverged at epoch {epoch} (loss is NaN or infinite)")
        for callback in callbacks:
            callback.on_epoch_end(epoch, row)


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


def train(config: TrainConfig, out, resume: bool = False, progress: bool = True,
          checkpoint_seconds: float = CHECKPOINT_SECONDS) -> Bundle:
    """Train the DCGAN on the normal training images of ``config`` and write a model bundle to ``out``.

    Args:
        config: dataset, normal classes, epochs and the other settings (see the CLI).
        out: the run directory.
        resume: continue a run in ``out`` from its last complete epoch.
        progress: show progress bars and log one line per epoch.
        checkpoint_seconds: write a checkpoint at most this often (and after
            the first and the last epoch); 0 writes one every epoch.

    Returns:
        The trained :class:`~anogan.artifacts.Bundle`.

    Example:
        >>> bundle = train(TrainConfig("mnist-5k", normal=[0], epochs=1), out="runs/demo")  # doctest: +SKIP
    """
    split = one_class_split(load_dataset(config.dataset, config.data), config.normal, config.val_fraction,
                            config.seed)
    return train_on_split(split, config, Path(out), resume=resume, progress=progress,
                          checkpoint_seconds=checkpoint_seconds)


def train_on_split(
    split: OneClassSplit, config: TrainConfig, out: Path, resume: bool = False, progress: bool = True,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
) -> Bundle:
    """Train on an already loaded one-class split (see :func:`train`)."""
    import keras
    import tensorflow as tf

    from anogan.models import as_float32, make_discriminator, make_generator

    config = replace(config, epochs=config.epochs_for(len(split.x_train)))
    if progress:
        recipe = f", recipe {config.recipe['name']}" if config.recipe else ""
        progress_log.info("== GAN: %d epochs (batch %d%s) on %d normal training images of %s, into %s",
                          config.epochs, config.batch_size, recipe, len(split.x_train), config.dataset, out)
    run = RunDirectory(out)
    start_epoch = _check_resume(run, config, resume)
    if start_epoch > config.epochs:
        raise AnoganError(f"{run.path} holds a run trained for {start_epoch} epochs, more than the {config.epochs} "
                          "asked for; choose another --out")
    if start_epoch == config.epochs and run.bundle_file.is_file():
        return load_bundle(run.path)
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_config(config.resume_key())

    keras.utils.set_random_seed(config.seed)
    if start_epoch > 0:
        models, state = run.load_checkpoint(start_epoch)
        trainer = GANTrainer(models["generator"], models["discriminator"], config.seed, config.jit_compile,
                             config.generator_ema, config.discriminator_ema, config.learning_rate, config.beta_1)
        trainer.restore_optimizer_state(state)
    else:
        trainer = GANTrainer(
            make_generator(config.latent_dim, config.precision), make_discriminator(config.precision),
            config.seed, config.jit_compile, config.generator_ema, config.discriminator_ema, config.learning_rate,
            config.beta_1,
        )
    fixed_noise = np.random.default_rng(config.seed).standard_normal(
        (SAMPLE_GRID * SAMPLE_GRID, config.latent_dim)
    ).astype(np.float32)

    def step(batch):
        gen_loss, disc_loss = trainer.train_step(batch)
        return {"gen_loss": gen_loss, "disc_loss": disc_loss}

    callbacks = [WriteSampleGrid(run.samples, trainer.generator, fixed_noise),
                 WriteHistory(run.history, HISTORY_COLUMNS, run.read_history(run.history, start_epoch)),
                 SaveCheckpoint(run, trainer, config.epochs, checkpoint_seconds)]
    if progress:
        callbacks.append(LogProgress("GAN", config.epochs))
    run_epochs(step, tf.constant(to_model_range(split.x_train)), config.batch_size, config.seed, config.epochs,
               first_epoch=start_epoch + 1, callbacks=callbacks, name="GAN training", progress=progress)
    trainer.use_weight_averages()  # the checkpoints keep the trained weights, so a longer run can resume

    training = asdict(config)
    recipe = training.pop("recipe")
    metadata = bundle_metadata(training, split.normal_classes, split.class_names, [IMAGE_SIZE, IMAGE_SIZE, 1],
                               len(split.x_train), len(split.x_val))
    if recipe:
        metadata["recipe"] = recipe
    bundle = Bundle(
        path=run.path,
        metadata=metadata,
        generator=as_float32(trainer.generator, make_generator, config.latent_dim),
        discriminator=as_float32(trainer.discriminator, make_discriminator),
    )
    bundle.save(split.x_val, split.x_train)
    return bundle


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
    given). Writes ``encoder.keras`` and ``encoder_history.csv``; the bundle
    drops its calibrations of the methods that use the old encoder.

    Example:
        >>> bundle = train_encoder(load_bundle("runs/demo"), epochs=5)  # doctest: +SKIP
    """
    import keras
    import tensorflow as tf

    from anogan.models import encoder_errors, make_encoder, make_feature_extractor

    if epochs < 1 or batch_size < 1:
        raise AnoganError("encoder epochs and batch size must be at least 1")
    x_train = normal_training_images(bundle.metadata) if images is None else images
    keras.utils.set_random_seed(seed)
    encoder = make_encoder(bundle.latent_dim)
    optimizer = keras.optimizers.Adam(learning_rate)
    generator, features = bundle.generator, make_feature_extractor(bundle.discriminator)

    @tf.function
    def encoder_step(batch):
        with tf.GradientTape() as tape:
            _, _, pixel_errors, feature_errors = encoder_errors(encoder, generator, features, batch, training=True)
            residual = tf.reduce_mean(pixel_errors)
            feature = tf.reduce_mean(feature_errors)
            loss = residual + kappa * feature
        optimizer.apply_gradients(zip(tape.gradient(loss, encoder.trainable_variables), encoder.trainable_variables))
        return {"loss": loss, "residual": residual, "feature": feature}

    history = bundle.run_directory().encoder_history
    callbacks = [WriteHistory(history, ENCODER_HISTORY_COLUMNS)]
    if progress:
        callbacks.append(LogProgress("encoder", epochs))
    run_epochs(encoder_step, tf.constant(to_model_range(x_train)), batch_size, seed, epochs,
               callbacks=callbacks, name="encoder training", progress=progress)
    bundle.metadata["encoder"] = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                                  "kappa": kappa, "seed": seed, "n_train": len(x_train)}
    bundle.set_encoder(encoder)
    return bundle
