"""GAN training on normal images: the run's settings, one epoch loop, checkpoints and exact resume.

:func:`run_epochs` shuffles with a seed per epoch and hands each epoch's row
to callbacks (:mod:`anogan.gan.callbacks`); the GAN and the f-AnoGAN
encoder both train through it. A run directory
(:class:`~anogan.gan.bundle.RunDirectory`) collects ``history.csv``,
``samples/epoch_NNNN.png`` (an 8x8 grid from fixed noise) and
``checkpoints/`` (models, optimiser state, noise-generator state), and, when
the last epoch is done, the model bundle. Every file is written to a
temporary name and renamed, so a run killed at any moment resumes from its
last checkpoint with ``resume=True`` and ends with the same weights.
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

from anogan.data.datasets import load_dataset, to_model_range
from anogan.data.images import IMAGE_SIZE
from anogan.data.protocol import OneClassSplit, one_class_split
from anogan.errors import AnoganError, TrainingDiverged
from anogan.gan.bundle import (
    HISTORY_COLUMNS,
    Bundle,
    RunDirectory,
    bundle_metadata,
    load_bundle,
)
from anogan.gan.callbacks import (
    SAMPLE_GRID,
    Callback,
    LogProgress,
    SaveCheckpoint,
    WriteHistory,
    WriteSampleGrid,
    WriteTensorBoard,
)
from anogan.gan.health import MIN_HEALTH_IMAGES, HealthProbe
from anogan.gan.monitor import DIVERGENCE, HEALTH_COLUMNS, HealthEvent, MonitorHealth, last_checkpoint_hint
from anogan.gan.trainer import GAN_BETA_1, GAN_LEARNING_RATE, GANTrainer

progress_log = logging.getLogger("anogan.progress")


# A checkpoint costs about a second; on short epochs one every epoch would double the training time.
CHECKPOINT_SECONDS = 30.0


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored in ``run.json`` and the bundle).

    ``seed`` seeds the weights, the noise, the shuffling and (unless
    ``split_seed`` is given) the held-out normal validation split; with
    ``split_seed``, runs of several seeds can hold out the same validation
    images, so that their scores can be compared, or averaged, on them.

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
    split_seed: Optional[int] = None
    latent_dim: int = 100
    val_fraction: float = 0.1
    jit_compile: bool = False
    precision: str = "float32"
    generator_ema: float = 0.0
    discriminator_ema: float = 0.0
    learning_rate: float = GAN_LEARNING_RATE
    beta_1: float = GAN_BETA_1
    min_steps: int = 0
    discriminator: str = "document"
    diff_augment: str = ""
    recipe: Optional[dict] = None

    def __post_init__(self):
        normal = self.normal if isinstance(self.normal, (list, tuple)) else [self.normal]
        object.__setattr__(self, "normal", tuple(str(n) for n in normal))
        if self.data is not None:
            object.__setattr__(self, "data", str(self.data))
        from anogan.gan.augment import parse_policy
        from anogan.gan.networks import check_discriminator, check_precision

        if self.epochs < 1:
            raise AnoganError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise AnoganError(f"batch size must be at least 1, got {self.batch_size}")
        if self.latent_dim < 1:
            raise AnoganError(f"latent size must be at least 1, got {self.latent_dim}")
        check_precision(self.precision)
        check_discriminator(self.discriminator)
        parse_policy(self.diff_augment)
        for role in ("generator", "discriminator"):
            momentum = getattr(self, f"{role}_ema")
            if not 0.0 <= momentum < 1.0:
                raise AnoganError(f"the {role}'s EMA momentum must be in [0, 1), got {momentum}")
        if self.min_steps < 0:
            raise AnoganError(f"the minimum number of steps must be >= 0, got {self.min_steps}")
        if self.split_seed is not None and self.split_seed < 0:
            raise AnoganError(f"the split seed must be >= 0, got {self.split_seed}")
        if self.split_seed == self.seed:  # the same run as without it: one name, one bundle
            object.__setattr__(self, "split_seed", None)
        if self.learning_rate <= 0:
            raise AnoganError(f"the GAN learning rate must be > 0, got {self.learning_rate}")
        if not 0.0 <= self.beta_1 < 1.0:
            raise AnoganError(f"Adam's beta_1 must be in [0, 1), got {self.beta_1}")

    @property
    def validation_seed(self) -> int:
        """The seed of the held-out normal validation split: ``split_seed``, else ``seed``."""
        return self.seed if self.split_seed is None else self.split_seed

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
        TrainingDiverged: when a loss becomes NaN or infinite (before the callbacks see that epoch).
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
            raise TrainingDiverged(f"{name} diverged at epoch {epoch} (a loss is NaN or infinite)", epoch)
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
          checkpoint_seconds: float = CHECKPOINT_SECONDS, health: Optional[HealthOptions] = None) -> Bundle:
    """Train the DCGAN on the normal training images of ``config`` and write a model bundle to ``out``.

    Args:
        config: dataset, normal classes, epochs and the other settings (see the CLI).
        out: the run directory.
        resume: continue a run in ``out`` from its last complete epoch.
        progress: show progress bars and log one line per epoch.
        checkpoint_seconds: write a checkpoint at most this often (and after
            the first and the last epoch); 0 writes one every epoch.
        health: how often to measure the generator and whether a collapse
            stops the run (:class:`HealthOptions`; default: every epoch, no stop).

    Returns:
        The trained :class:`~anogan.gan.bundle.Bundle`.

    Example:
        >>> bundle = train(TrainConfig("mnist-5k", normal=[0], epochs=1), out="runs/demo")  # doctest: +SKIP
    """
    split = one_class_split(load_dataset(config.dataset, config.data), config.normal, config.val_fraction,
                            config.validation_seed)
    return train_on_split(split, config, Path(out), resume=resume, progress=progress,
                          checkpoint_seconds=checkpoint_seconds, health=health)


def train_on_split(
    split: OneClassSplit, config: TrainConfig, out: Path, resume: bool = False, progress: bool = True,
    checkpoint_seconds: float = CHECKPOINT_SECONDS, health: Optional[HealthOptions] = None,
) -> Bundle:
    """Train on an already loaded one-class split (see :func:`train`)."""
    import keras
    import tensorflow as tf

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
    trainer = _trainer(run, config, start_epoch)
    fixed_noise = np.random.default_rng(config.seed).standard_normal(
        (SAMPLE_GRID * SAMPLE_GRID, config.latent_dim)
    ).astype(np.float32)

    def step(batch):
        gen_loss, disc_loss = trainer.train_step(batch)
        return {"gen_loss": gen_loss, "disc_loss": disc_loss}

    earlier = run.read_history(run.history, start_epoch)
    monitor = _health_monitor(run, split, trainer, config, health or HealthOptions(), earlier)
    floor = monitor.probe.floor.as_row() if monitor.probe is not None else None
    callbacks = [monitor,
                 WriteSampleGrid(run.samples, trainer.generator, fixed_noise),
                 WriteTensorBoard(run.tensorboard, trainer.generator, fixed_noise, floor),
                 WriteHistory(run.history, HISTORY_COLUMNS + HEALTH_COLUMNS, earlier),
                 SaveCheckpoint(run, trainer, config.epochs, checkpoint_seconds)]
    if progress:
        callbacks.append(LogProgress("GAN", config.epochs))
    try:
        run_epochs(step, tf.constant(to_model_range(split.x_train)), config.batch_size, config.seed, config.epochs,
                   first_epoch=start_epoch + 1, callbacks=callbacks, name="GAN training", progress=progress)
    except TrainingDiverged as exc:
        monitor.record(HealthEvent(exc.epoch, DIVERGENCE, "a loss is NaN or infinite"))
        raise TrainingDiverged(f"{exc} {last_checkpoint_hint(run.path)}", exc.epoch) from None
    trainer.use_weight_averages()  # the checkpoints keep the trained weights, so a longer run can resume

    return _save_bundle(run, config, split, trainer, monitor.summary())


@dataclass(frozen=True)
class HealthOptions:
    """How training health is measured: every ``every`` epochs (0: never, losses are still judged);
    ``stop_on_collapse`` measures every epoch, so the checkpoint left at a collapse is a measured, healthy one."""

    every: int = 1
    stop_on_collapse: bool = False

    def __post_init__(self):
        if self.every < 0:
            raise AnoganError(f"the health interval must be >= 0 epochs, got {self.every}")


def _health_monitor(run: RunDirectory, split: OneClassSplit, trainer: GANTrainer, config: TrainConfig,
                    health: HealthOptions, earlier: list[dict]) -> MonitorHealth:
    """The run's health monitor; it measures nothing when asked not to or with fewer than 8 validation images."""
    every = 1 if health.stop_on_collapse else health.every
    probe = None
    if every > 0 and len(split.x_val) >= MIN_HEALTH_IMAGES:
        probe = HealthProbe(to_model_range(split.x_val), config.latent_dim, config.seed)
    elif every > 0:
        progress_log.info("training health: %d validation images are too few to measure the generator; "
                          "only the losses are watched", len(split.x_val))
    return MonitorHealth(run.path, probe, trainer.averaged_generator, every, config.epochs, earlier,
                         health.stop_on_collapse)


def _trainer(run: RunDirectory, config: TrainConfig, start_epoch: int) -> GANTrainer:
    """The document's GAN with its optimisers: fresh, or as the checkpoint of ``start_epoch`` left it."""
    from anogan.gan.networks import make_discriminator, make_generator

    options = (config.seed, config.jit_compile, config.generator_ema, config.discriminator_ema,
               config.learning_rate, config.beta_1, config.diff_augment)
    if start_epoch == 0:
        return GANTrainer(make_generator(config.latent_dim, config.precision),
                          make_discriminator(config.precision, config.discriminator), *options)
    models, state = run.load_checkpoint(start_epoch)
    trainer = GANTrainer(models["generator"], models["discriminator"], *options)
    trainer.restore_optimizer_state(state)
    return trainer


def _save_bundle(run: RunDirectory, config: TrainConfig, split: OneClassSplit, trainer: GANTrainer,
                 health: Optional[dict] = None) -> Bundle:
    """Write the trained GAN (in float32) as the run's bundle, with its normal validation and training images."""
    from anogan.gan.networks import as_float32, make_discriminator, make_generator

    training = asdict(config)
    recipe = training.pop("recipe")
    metadata = bundle_metadata(training, split.normal_classes, split.class_names, [IMAGE_SIZE, IMAGE_SIZE, 1],
                               len(split.x_train), len(split.x_val))
    if recipe:
        metadata["recipe"] = recipe
    if health is not None:
        metadata["health"] = health
    bundle = Bundle(
        path=run.path,
        metadata=metadata,
        generator=as_float32(trainer.generator, make_generator, config.latent_dim),
        discriminator=as_float32(trainer.discriminator, make_discriminator, "float32", config.discriminator),
    )
    bundle.save(split.x_val, split.x_train)
    return bundle
