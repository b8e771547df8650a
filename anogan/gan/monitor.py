"""Training health: generation metrics each epoch, and the rules that call a run collapsed or diverging.

:class:`MonitorHealth` is a training callback. It measures the generator
with a :class:`~anogan.gan.health.HealthProbe` every ``every`` epochs,
adds the numbers to the epoch's row (so ``history.csv`` and TensorBoard
carry them), applies :func:`epoch_events`, logs a one-line warning per
event and keeps ``health.json`` in the run folder. With ``stop_on_collapse``
a mode collapse raises :class:`~anogan.errors.TrainingStopped` before that
epoch is checkpointed, so the checkpoint left is the last healthy one.

The rules, each on the epoch's row in the light of the earlier ones:

- **divergence**: a loss above :data:`EXPLODING_LOSS` (a NaN or infinite
  loss stops :func:`~anogan.gan.training.run_epochs` itself);
- **discriminator dominance**: D's loss under :data:`DOMINANT_D_LOSS` while
  G's is above :data:`DOMINANT_G_LOSS` and rising;
- **mode collapse**: once the samples were diverse (duplicates under 0.5 at
  an earlier measurement), half of them or more become near-duplicates; or
  recall and coverage both fall under half of their best earlier values
  (when the best recall was at least 0.2). An untrained generator is
  uniform, not collapsed: the rule waits until it has been diverse.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from anogan.errors import TrainingStopped
from anogan.gan.callbacks import Callback
from anogan.gan.health import FEATURE_NETWORK, METRIC_NAMES, GenerationMetrics, HealthProbe, collapse_reasons
from anogan.storage import write_json_atomic

warning_log = logging.getLogger("anogan")

COLLAPSE, DOMINANCE, DIVERGENCE = "mode-collapse", "discriminator-dominance", "divergence"
EXPLODING_LOSS = 50.0
DOMINANT_D_LOSS = 0.05
DOMINANT_G_LOSS = 5.0
DUPLICATES_COLLAPSED = 0.5
HEALTH_FILE = "health.json"
HEALTH_COLUMNS = (*METRIC_NAMES, "health_seconds")


@dataclass(frozen=True)
class HealthEvent:
    """One warning about one epoch."""

    epoch: int
    kind: str
    message: str

    def line(self) -> str:
        return f"training health: epoch {self.epoch}: {self.kind}: {self.message}"


def _value(row: dict, key: str) -> Optional[float]:
    value = row.get(key, "")
    return None if value in ("", None) else float(value)


def _loss_events(rows: list[dict]) -> list[HealthEvent]:
    row, epoch = rows[-1], int(rows[-1]["epoch"])
    gen, disc = _value(row, "gen_loss"), _value(row, "disc_loss")
    events = []
    if max(gen, disc) > EXPLODING_LOSS:
        events.append(HealthEvent(epoch, DIVERGENCE, f"losses are exploding (G {gen:.3g}, D {disc:.3g})"))
    rising = len(rows) > 1 and gen > _value(rows[-2], "gen_loss")
    if disc < DOMINANT_D_LOSS and gen > DOMINANT_G_LOSS and rising:
        events.append(HealthEvent(epoch, DOMINANCE, f"D's loss is {disc:.3g} while G's rises to {gen:.3g}: "
                                  "G gets almost no gradient"))
    return events


def _collapse_events(rows: list[dict]) -> list[HealthEvent]:
    row = rows[-1]
    if _value(row, "duplicates") is None:
        return []
    earlier = [r for r in rows[:-1] if _value(r, "duplicates") is not None]
    if not earlier:
        return []
    epoch, duplicates = int(row["epoch"]), _value(row, "duplicates")
    if duplicates >= DUPLICATES_COLLAPSED and any(_value(r, "duplicates") < DUPLICATES_COLLAPSED for r in earlier):
        return [HealthEvent(epoch, COLLAPSE, f"{duplicates:.0%} of the samples are near-duplicates")]
    best_recall = max(_value(r, "recall") for r in earlier)
    best_coverage = max(_value(r, "coverage") for r in earlier)
    recall, coverage = _value(row, "recall"), _value(row, "coverage")
    if best_recall >= 0.2 and recall < 0.5 * best_recall and coverage < 0.5 * best_coverage:
        return [HealthEvent(epoch, COLLAPSE, f"recall fell from {best_recall:.2f} to {recall:.2f} and coverage "
                            f"from {best_coverage:.2f} to {coverage:.2f}")]
    return []


def epoch_events(rows: list[dict]) -> list[HealthEvent]:
    """The health events of the last of ``rows`` (history rows, oldest first; values may be strings)."""
    return _loss_events(rows) + _collapse_events(rows)


class MonitorHealth(Callback):
    """Measure, judge and record training health each epoch (see the module docstring).

    Args:
        path: the run folder (``health.json`` goes there).
        probe: the fixed validation halves and noise, or None when the run
            has too few validation images to measure (losses are still judged).
        generator: returns the generator to measure (the one the bundle will
            get: with G's EMA on, the moving average, not the raw weights).
        every: measure every this many epochs (and at the last epoch).
        last_epoch: the run's last epoch.
        rows: history rows of earlier epochs (a resumed run), oldest first.
        stop_on_collapse: raise :class:`TrainingStopped` at a mode collapse.
    """

    def __init__(self, path: Path, probe: Optional[HealthProbe], generator, every: int, last_epoch: int,
                 rows: Optional[list[dict]] = None, stop_on_collapse: bool = False):
        self.path, self.probe, self.generator = Path(path), probe, generator
        self.every, self.last_epoch, self.stop_on_collapse = max(1, every), last_epoch, stop_on_collapse
        self.rows = list(rows or [])
        self.events = [HealthEvent(**e) for e in read_health(self.path).get("events", [])
                       if e["epoch"] <= (int(self.rows[-1]["epoch"]) if self.rows else 0)]

    def on_epoch_end(self, epoch: int, row: dict) -> None:
        if self.probe is not None and (epoch % self.every == 0 or epoch == self.last_epoch):
            started = time.perf_counter()
            row.update(self.probe.measure(self.generator()).as_row())
            row["health_seconds"] = round(time.perf_counter() - started, 3)
        self.rows.append(row)
        new = epoch_events(self.rows)
        for event in new:
            self.record(event)
        write_json_atomic(self.path / HEALTH_FILE, self.summary())
        collapse = [e for e in new if e.kind == COLLAPSE]
        if self.stop_on_collapse and collapse:
            raise TrainingStopped(f"stopped by --stop-on-collapse: {collapse[0].line()}. {last_checkpoint_hint(self.path)}")

    def record(self, event: HealthEvent) -> None:
        """Keep ``event``, warn about it in one line and rewrite ``health.json``."""
        self.events.append(event)
        warning_log.warning(event.line())
        write_json_atomic(self.path / HEALTH_FILE, self.summary())

    def summary(self) -> dict:
        """What ``health.json`` and the bundle record: feature network, floor, last measurement, events."""
        measured = [r for r in self.rows if _value(r, "recall") is not None]
        return {
            "feature_network": FEATURE_NETWORK,
            "every": self.every,
            "n_reference": len(self.probe.reference) if self.probe is not None else 0,
            "few_images": self.probe.few_images if self.probe is not None else True,
            "floor": self.probe.floor.as_row() if self.probe is not None else None,
            "last": {"epoch": int(measured[-1]["epoch"]), **{k: float(measured[-1][k]) for k in METRIC_NAMES}}
            if measured else None,
            "events": [asdict(e) for e in self.events],
            # collapsed at the last measurement; earlier, recovered events stay in the list
            "collapsed": bool(measured) and any(e.kind == COLLAPSE and e.epoch == int(measured[-1]["epoch"])
                                                for e in self.events),
        }


def read_health(run_path: Path) -> dict:
    """A run's ``health.json`` (empty when it has none)."""
    import json

    path = Path(run_path) / HEALTH_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def last_checkpoint_hint(run_path: Path) -> str:
    """Where the run's last checkpoint is and how to make a bundle from it."""
    from anogan.gan.bundle import RunDirectory

    epoch = RunDirectory(run_path).latest_epoch()
    if epoch == 0:
        return "No checkpoint was written before it."
    return (f"The last checkpoint is epoch {epoch} ({RunDirectory(run_path).checkpoint_dir(epoch)}); "
            f"rerun with --epochs {epoch} --resume to make a bundle from it.")


def _measured(health: dict) -> str:
    last, floor = health.get("last"), health.get("floor")
    if not (last and floor):
        return "generation not measured"
    text = (f"last epoch {last['epoch']}: Fréchet distance {last['fd']:.3g} (floor {floor['fd']:.3g}), "
            f"precision {last['precision']:.2f}, recall {last['recall']:.2f}, coverage {last['coverage']:.2f}")
    if health.get("few_images"):
        text += f" (only {health.get('n_reference', 0)} validation images per half: noisy)"
    return text


def health_warning(metadata: dict) -> Optional[str]:
    """A warning when a bundle's generator collapsed, diverged or covers almost nothing; None otherwise."""
    health = metadata.get("health") or {}
    events, last = health.get("events", []), health.get("last")
    collapse = [e for e in events if e["kind"] == COLLAPSE]
    if health.get("collapsed"):
        return (f"the generator collapsed at epoch {collapse[-1]['epoch']} ({collapse[-1]['message']}) and was "
                f"still collapsed at the end; {_measured(health)}")
    reasons = collapse_reasons(GenerationMetrics(**{k: last[k] for k in METRIC_NAMES}, n_images=0)) if last else []
    if reasons:
        return f"at the last epoch {'; '.join(reasons)} (undertrained or collapsed); {_measured(health)}"
    return None


def health_line(metadata: dict) -> str:
    """One line on a bundle's training health, from its ``bundle.json`` metadata."""
    health = metadata.get("health")
    if not health:
        return "not measured (the bundle was trained without health metrics)"
    warning = health_warning(metadata)
    if warning:
        return f"WARNING: {warning}"
    events = health.get("events", [])
    if not health.get("last") and not events:
        return "generation not measured (too few validation images, or --health-every 0); the losses gave no warning"
    if events:
        return (f"healthy at the end, after {len(events)} warning(s) during training (first at epoch "
                f"{events[0]['epoch']}: {events[0]['kind']}, {events[0]['message']}); {_measured(health)}")
    return f"healthy; {_measured(health)}"
