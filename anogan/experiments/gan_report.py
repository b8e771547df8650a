"""What a bundle's generator learned: its health metrics, their curves over epochs, and a memorisation check.

:func:`gan_report` measures the bundle's generator (and, on request, the
run's checkpoint) against the bundle's normal validation images with the
fixed feature network of :mod:`anogan.gan.health`, beside the floor, and
pairs a few samples with their nearest training images: a generator that
copies its training set puts samples much closer to a training image than
held-out normal images are (``memorisation_ratio`` well under 1).
:func:`write_report` writes the table (CSV) and one PNG: the metric curves
over epochs from ``history.csv``, the samples and their nearest training
images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anogan.data.datasets import from_model_range, to_model_range
from anogan.gan.bundle import Bundle, RunDirectory
from anogan.gan.health import METRIC_NAMES, HealthProbe
from anogan.gan.monitor import health_line
from anogan.storage import write_csv_atomic

NEAREST_SAMPLES = 8


@dataclass
class GanReport:
    """The measurements of one bundle's generator; ``rows`` are (what, metrics...) for the table."""

    rows: list[dict]
    history: list[dict]
    health: str
    samples: np.ndarray  # uint8 (k, 28, 28)
    nearest: np.ndarray  # uint8 (k, 28, 28), the nearest training image of each sample
    nearest_distance: np.ndarray
    memorisation_ratio: float
    few_images: bool
    epoch: int
    notes: list[str] = field(default_factory=list)


def _nearest(queries: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and pixel L2 distance to the nearest of ``images`` for each query (model range)."""
    q, x = queries.reshape(len(queries), -1), images.reshape(len(images), -1)
    squared = (q**2).sum(1)[:, None] + (x**2).sum(1)[None, :] - 2 * q @ x.T
    index = squared.argmin(1)
    return index, np.sqrt(np.clip(squared[np.arange(len(q)), index], 0, None))


def nearest_training_images(bundle: Bundle, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For model-range ``images``, the nearest of the bundle's training images (uint8) and the distances."""
    reference = bundle.reference_images()
    index, distance = _nearest(images, to_model_range(reference))
    return reference[index], distance


def _memorisation_ratio(bundle: Bundle, probe: HealthProbe, generated: np.ndarray) -> float:
    """Median distance of samples to their nearest training image over that of held-out normal images."""
    validation = to_model_range(bundle.validation_images())[: len(generated)]
    reference = to_model_range(bundle.reference_images())
    _, from_samples = _nearest(generated, reference)
    _, from_validation = _nearest(validation, reference)
    return float(np.median(from_samples) / max(np.median(from_validation), 1e-9))


def gan_report(bundle: Bundle, checkpoints: bool = False) -> GanReport:
    """Measure the bundle's generator (and the run's last checkpoint with ``checkpoints``).

    Example:
        >>> report = gan_report(open_bundle("runs/demo"))  # doctest: +SKIP
        >>> report.rows[0]["what"], report.rows[0]["recall"]  # doctest: +SKIP
        ('generator', 0.58)
    """
    seed = int(bundle.metadata["training"].get("seed", 0))
    probe = HealthProbe(to_model_range(bundle.validation_images()), bundle.latent_dim, seed)
    generated = probe.generate(bundle.generator)
    rows = [{"what": "generator (the bundle's)", **probe.measure_images(generated).as_row()},
            {"what": "floor (held-out normal images)", **probe.floor.as_row()}]
    notes = []
    run = RunDirectory(bundle.path)
    if checkpoints:
        epoch = run.latest_epoch()
        if epoch:
            models, _ = run.load_checkpoint(epoch)
            rows.append({"what": f"checkpoint epoch {epoch} (training weights, no averaging)",
                         **probe.measure(models["generator"]).as_row()})
        notes.append("a run keeps only its last checkpoint; the per-epoch metrics are in history.csv"
                     if epoch else "this run kept no checkpoint")
    nearest, distance = nearest_training_images(bundle, generated[:NEAREST_SAMPLES])
    history = [row for row in run.read_history(run.history) if row.get("fd")]
    return GanReport(rows=rows, history=history, health=health_line(bundle.metadata),
                     samples=from_model_range(generated[:NEAREST_SAMPLES]).reshape(-1, 28, 28), nearest=nearest,
                     nearest_distance=distance, memorisation_ratio=_memorisation_ratio(bundle, probe, generated),
                     few_images=probe.few_images, epoch=int(bundle.metadata["training"]["epochs"]), notes=notes)


def write_report(report: GanReport, out: Path) -> tuple[Path, Path]:
    """Write ``gan_report.csv`` (the table) and ``gan_report.png`` (curves, samples, nearest images) to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / "gan_report.csv"
    write_csv_atomic(table, ("what", *METRIC_NAMES), report.rows)
    figure_path = out / "gan_report.png"
    _plot_report(report, figure_path)
    return table, figure_path


def _plot_report(report: GanReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from anogan.experiments.evaluation import save_figure

    measured, floor = report.rows[0], report.rows[1]
    figure = plt.figure(figsize=(12, 6.5))
    grid = figure.add_gridspec(3, 2 * NEAREST_SAMPLES, height_ratios=[3, 1, 1])
    distance_axis = figure.add_subplot(grid[0, :NEAREST_SAMPLES])
    manifold_axis = figure.add_subplot(grid[0, NEAREST_SAMPLES:])
    epochs = [int(row["epoch"]) for row in report.history]
    panels = ((distance_axis, ("fd", "kid"), "distances to normal images (log)"),
              (manifold_axis, ("precision", "recall", "coverage"), "fidelity and diversity"))
    for axis, names, title in panels:
        for name in names:
            values = [float(row[name]) for row in report.history]
            line = axis.plot(epochs, values, marker=".", label=name)[0]
            # the bundle's own generator, at its epoch (the only point when the run kept no per-epoch metrics)
            axis.plot([report.epoch], [float(measured[name])], marker="*", markersize=10, color=line.get_color())
            axis.axhline(float(floor[name]), color=line.get_color(), linestyle=":", linewidth=1)
        axis.axvline(report.epoch, color="grey", linewidth=0.8)
        axis.set(xlabel="epoch", title=title)
        axis.legend(loc="best", fontsize=8)
    distance_axis.set_yscale("symlog", linthresh=1e-3)
    for i in range(len(report.samples)):
        for row, images, label in ((1, report.samples, "sample"), (2, report.nearest, "nearest train")):
            axis = figure.add_subplot(grid[row, 2 * i : 2 * i + 2])
            axis.imshow(images[i], cmap="gray", vmin=0, vmax=255)
            axis.set_xticks([]), axis.set_yticks([])
            if i == 0:
                axis.set_ylabel(label, fontsize=8)
            if row == 2:
                axis.set_xlabel(f"{report.nearest_distance[i]:.1f}", fontsize=7)
    figure.suptitle(f"{report.health}\ndotted: the floor (held-out normal images); star and grey line: the bundle's "
                    f"generator at epoch {report.epoch}; memorisation ratio {report.memorisation_ratio:.2f} (samples' distance to "
                    "the nearest training image over held-out images'; well under 1 means copies)", fontsize=8)
    save_figure(figure, path)

