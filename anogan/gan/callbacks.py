"""Training callbacks: what happens after each epoch, kept out of the loop.

Each callback sees the epoch number and its row of losses: one writes the
history file, one the sample grid, one TensorBoard's event files, one the
checkpoint (at most every ``every_seconds``, and at the first and last
epoch), one the progress line. The health monitor
(:mod:`anogan.gan.monitor`) runs first and adds its measurements to the row.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from anogan.data.images import IMAGE_SIZE, save_image
from anogan.gan.bundle import (
    RunDirectory,
)
from anogan.gan.trainer import GANTrainer
from anogan.storage import atomic_path, write_csv_atomic

progress_log = logging.getLogger("anogan.progress")


SAMPLE_GRID = 8


def sample_grid(generator, noise: np.ndarray) -> np.ndarray:
    """Generate images for ``noise`` and tile them into one ``uint8`` grid."""
    from anogan.data.datasets import from_model_range

    images = from_model_range(generator(noise, training=False).numpy())
    rows = SAMPLE_GRID
    cols = int(np.ceil(len(images) / rows))
    grid = np.zeros((rows * IMAGE_SIZE, cols * IMAGE_SIZE), dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * IMAGE_SIZE : (r + 1) * IMAGE_SIZE, c * IMAGE_SIZE : (c + 1) * IMAGE_SIZE] = image
    return grid


def grid_tiles(grid: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` images of a sample grid (row by row), ``(count, 28, 28)``."""
    rows, cols = grid.shape[0] // IMAGE_SIZE, grid.shape[1] // IMAGE_SIZE
    tiles = [grid[r * IMAGE_SIZE : (r + 1) * IMAGE_SIZE, c * IMAGE_SIZE : (c + 1) * IMAGE_SIZE]
             for r in range(rows) for c in range(cols)]
    return np.stack(tiles[:count])


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


class WriteTensorBoard(Callback):
    """Write the row's numbers and the sample grid as TensorBoard events (``tensorboard --logdir runs``).

    Losses go under ``loss/``, generation metrics under ``health/`` with
    their floor under ``floor/``, timings under ``time/``.
    """

    def __init__(self, folder: Path, generator, noise: np.ndarray, floor: Optional[dict] = None):
        import tensorflow as tf

        self.writer = tf.summary.create_file_writer(str(folder))
        self.generator, self.noise, self.floor = generator, noise, floor or {}

    @staticmethod
    def _group(key: str) -> str:
        if key.endswith("loss"):
            return "loss"
        return "time" if key in ("seconds", "images_per_second", "health_seconds") else "health"

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        import tensorflow as tf

        with self.writer.as_default(step=epoch):
            for key, value in row.items():
                if key != "epoch" and value not in ("", None):
                    tf.summary.scalar(f"{self._group(key)}/{key}", float(value))
                    if key in self.floor and self._group(key) == "health":
                        tf.summary.scalar(f"floor/{key}", float(self.floor[key]))
            grid = sample_grid(self.generator, self.noise)
            tf.summary.image("samples", grid[None, :, :, None], max_outputs=1)
        self.writer.flush()


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
        # the losses and three health numbers; history.csv and TensorBoard have the rest
        shown = [k for k in row if k.endswith("loss")] + [k for k in ("fd", "recall", "coverage") if k in row]
        losses = " ".join(f"{k} {float(row[k]):.4f}" for k in shown)
        progress_log.info("%s epoch %d/%d: %s (%.0f img/s)", self.name, epoch, self.epochs, losses,
                          row["images_per_second"])
