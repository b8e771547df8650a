"""Ray as the engine when one machine is not enough: batch scoring on Ray Data, benchmark runs as Ray tasks.

The work is the same as on one machine, only placed elsewhere:

* scoring: the inputs' listing (their positions) becomes a Ray Dataset;
  ``map_batches`` hands chunks of it to a pool of actors, each holding **one**
  :class:`~anogan.scoring.scorer.Scorer` (the bundle loaded once per actor, TensorFlow
  limited to the actor's CPUs). An actor reads and decodes its inputs with
  anogan's own reader (:meth:`anogan.inputs.InputSource.item`) and turns them
  into rows with :func:`anogan.results.score_items`, so a bad file gets the same
  error row as locally. Rows come back in input order and are written by the
  same resumable writer as the local engine's (:func:`anogan.results.score_to_file`).
* benchmark: one Ray task per (class, seed), ``num_cpus`` each, in a fresh
  worker process, running exactly what the local benchmark runs.

Without an address a local Ray is started on demand (no cluster needed);
``address="auto"`` joins a running cluster (``ray start --head`` / ``ray
start --address``). The bundle, the inputs and the output folder must be on
storage that every node sees, under the same path (workers start in the
caller's working directory, so relative paths work too). Ray's actors are restarted and their batches
retried when a worker dies, so every input still gets exactly one row.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from anogan.errors import AnoganError

progress_log = logging.getLogger("anogan.progress")


def _import_ray():
    try:
        import ray
    except ImportError:
        raise AnoganError("the ray engine needs Ray: pip install \"anogan[ray]\"") from None
    return ray


def limit_tensorflow_threads(threads: int) -> None:
    """Let TensorFlow in this process use ``threads`` threads per op (before it starts; no effect after)."""
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already started in this worker: it keeps its first setting
        pass


class _ScoringActor:
    """A Ray Data actor: one Scorer, built once, that turns chunks of input positions into result rows."""

    def __init__(self, source, bundle_path: str, method: str, settings, state, calibration,
                 maps_dir: Optional[str], threads: int, cwd: str):
        os.chdir(cwd)
        limit_tensorflow_threads(threads)
        ray = _import_ray()
        from anogan.gan.bundle import open_bundle
        from anogan.scoring.scorer import Scorer

        self.source = ray.get(source) if isinstance(source, ray.ObjectRef) else source
        # the driver's latent bank and term statistics: taken, not rebuilt on every actor
        state = ray.get(state) if isinstance(state, ray.ObjectRef) else state
        self.scorer = Scorer(open_bundle(bundle_path), method, settings, state=state)
        self.calibration = calibration
        self.maps_dir = Path(maps_dir) if maps_dir else None

    def __call__(self, batch: dict) -> dict:
        from anogan.results.rows import score_items

        items = [self.source.item(int(i)) for i in batch["data"]]
        rows = score_items(self.scorer, self.calibration, items, self.maps_dir)
        # JSON keeps every cell exactly (floats round-trip) whatever its type, which Arrow columns would not
        return {"row": np.array([json.dumps(row) for row in rows], dtype=object)}


@dataclass
class RayEngine:
    """Score and run benchmarks on Ray: a local Ray started on demand, or a cluster.

    Args:
        address: ``None`` starts a local Ray on this machine; ``"auto"`` joins
            the running cluster; ``"ray://host:10001"`` or ``"host:6379"`` a given one.
        workers: scoring actors (default: as many as the cluster's CPUs allow at ``worker_cpus`` each).
        worker_cpus: CPUs per actor or benchmark task; TensorFlow uses that many threads there.
        progress: show Ray Data's progress bars.

    Example:
        >>> from anogan.engines.scoring_job import score_to_file
        >>> score_to_file(source, scorer, calibration, "scores.csv",
        ...               engine=RayEngine(workers=2))  # doctest: +SKIP
    """

    address: Optional[str] = None
    workers: Optional[int] = None
    worker_cpus: float = 1.0
    progress: bool = True
    startup_seconds: Optional[float] = field(default=None, init=False)
    name = "ray"

    def __post_init__(self):
        if self.worker_cpus <= 0:
            raise AnoganError(f"--worker-cpus must be positive, got {self.worker_cpus}")
        if self.workers is not None and self.workers < 1:
            raise AnoganError(f"--workers must be at least 1, got {self.workers}")

    @property
    def threads(self) -> int:
        return max(1, math.ceil(self.worker_cpus))

    def start(self):
        """Ray, connected (a running connection in this process is reused); records ``startup_seconds``."""
        ray = _import_ray()
        _check_reachable(self.address)
        if not ray.is_initialized():
            started = time.perf_counter()
            try:
                ray.init(address=self.address, include_dashboard=False, logging_level=logging.WARNING,
                         log_to_driver=self.progress)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise AnoganError(f"cannot start or reach Ray at {self.address or 'a new local instance'}: {exc}") \
                    from None
            self.startup_seconds = time.perf_counter() - started
        elif self.startup_seconds is None:
            self.startup_seconds = 0.0
        return ray

    def _pool_size(self, ray) -> int:
        if self.workers is not None:
            return self.workers
        return max(1, int(ray.cluster_resources().get("CPU", 1) // self.worker_cpus))

    def score_chunks(self, source, scorer, calibration, indices: Sequence[int], chunk_size: int,
                     maps_dir: Optional[Path] = None) -> Iterator[list[dict]]:
        """Result rows of ``indices`` in input order, one list per chunk, scored by a pool of actors."""
        if not len(indices):
            return
        ray = self.start()
        from ray import data as ray_data  # a submodule `import ray` does not load

        context = ray_data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = self.progress
        if not self.progress:
            logging.getLogger("ray.data").setLevel(logging.WARNING)
        workers = self._pool_size(ray)
        # at least one chunk per worker, so a small input still uses them all
        n_chunks = max(math.ceil(len(indices) / chunk_size), min(workers, len(indices)))
        chunks = np.array_split(np.asarray(indices, dtype=np.int64), n_chunks)
        # held here until the last row is in, so a restarted actor finds them
        source_ref, state_ref = ray.put(source), ray.put(scorer.state())
        dataset = ray_data.from_numpy(list(chunks)).map_batches(
            _ScoringActor,
            fn_constructor_kwargs=dict(
                source=source_ref, bundle_path=str(Path(scorer.bundle.path).resolve()), method=scorer.method,
                settings=scorer.settings, state=state_ref, calibration=calibration,
                maps_dir=str(Path(maps_dir).resolve()) if maps_dir is not None else None, threads=self.threads,
                cwd=os.getcwd(),
            ),
            batch_size=chunk_size, batch_format="numpy", num_cpus=self.worker_cpus,
            compute=ray_data.ActorPoolStrategy(size=workers),
        )
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            yield [json.loads(row) for row in batch["row"]]

    def run_all(self, function: Callable[..., object], calls: Sequence[dict]) -> list:
        """``function(**call)`` for every call, each as a Ray task with ``worker_cpus`` CPUs in a fresh worker."""
        if not calls:
            return []
        ray = self.start()
        task = ray.remote(num_cpus=self.worker_cpus, max_calls=1)(_call_with_threads)
        refs = [task.remote(function, self.threads, os.getcwd(), call) for call in calls]
        pending = dict(zip(refs, calls))
        results = {}
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1)
            for ref in finished:
                call = pending.pop(ref)
                results[ref] = ray.get(ref)
                progress_log.info("   finished on Ray: %s (%d left)", _describe(call), len(pending))
        return [results[ref] for ref in refs]


def local_pids_named(name: str) -> list[int]:
    """Process ids of this machine's processes whose command line holds ``name`` (Linux): Ray titles
    an actor's process after its class, so this finds actors, e.g. to watch their memory."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if name.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:  # the process ended while we looked
                continue
    return pids


def local_scoring_actor_pids() -> list[int]:
    """Process ids of the scoring actors running on this machine (Linux)."""
    return local_pids_named(_ScoringActor.__name__)


def _check_reachable(address: Optional[str], timeout: float = 5.0) -> None:
    """Fail fast on a ``host:port`` that does not answer: Ray itself keeps retrying for minutes."""
    if not address or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise AnoganError(f"Ray address {address!r} is not auto, host:port or ray://host:port")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise AnoganError(f"no Ray cluster answers at {address} ({exc}); start one with 'ray start --head' "
                          "or leave out --ray-address to start a local Ray") from None


def _call_with_threads(function: Callable[..., object], threads: int, cwd: str, call: dict):
    os.chdir(cwd)  # relative paths mean what they mean to the caller (the same path on every node)
    limit_tensorflow_threads(threads)
    return function(**call)


def _describe(call: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in call.items() if isinstance(value, (int, str)))
