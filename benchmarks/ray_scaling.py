"""Local vs Ray scoring on this machine: images per second, Ray start-up, peak memory per worker, a killed worker.

    python benchmarks/ray_scaling.py --model runs/bench/mnist_class0_seed0 --data ../shared/data/mnist.npz

Scores the 10,000 MNIST test images with each method (``encoder`` and
``feature-knn``) on the local engine, on Ray with one worker of 2 CPUs and
with two workers of 1 CPU (both use the whole 2-core machine), and once more
on two workers with one worker killed (``kill -9``) a third of the way in.
Each configuration runs in a fresh process, so start-up and memory are its
own. Results are appended to ``benchmarks/results/ray-scaling/runs.jsonl``
(finished configurations are skipped on a rerun) and tabulated in
``table.md``. Every Ray run's rows are compared with the local run's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from anogan.engines.ray_engine import local_scoring_actor_pids
from anogan.results.rows import RESULT_COLUMNS

CONFIGURATIONS = {  # name: (engine, workers, worker CPUs, kill one worker)
    "local": ("local", None, None, False),
    "ray-1x2cpu": ("ray", 1, 2.0, False),
    "ray-2x1cpu": ("ray", 2, 1.0, False),
    "ray-2x1cpu-kill": ("ray", 2, 1.0, True),
}
METHODS = ("encoder", "feature-knn")
HEADER = ",".join(RESULT_COLUMNS)
RESULT_MARK = "RESULT "  # Ray's own messages share the child's stdout


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class WorkerWatch(threading.Thread):
    """Samples the scoring actors' peak memory; kills one once ``kill_after_rows`` rows are written."""

    def __init__(self, out: Path, kill_after_rows: int | None):
        super().__init__(daemon=True)
        self.out, self.kill_after_rows = out, kill_after_rows
        self.earlier = set(local_scoring_actor_pids())  # another run's actors still shutting down are not ours
        self.peaks: dict[int, float] = {}
        self.killed: dict | None = None
        self.first_row_at: float | None = None
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for pid in set(local_scoring_actor_pids()) - self.earlier:
                try:
                    self.peaks[pid] = max(self.peaks.get(pid, 0.0), _peak_rss_mib(pid))
                except OSError:
                    continue
            if self.first_row_at is None and self.out.exists() and self.out.stat().st_size > len(HEADER) + 1:
                self.first_row_at = time.perf_counter()
            if self.kill_after_rows is not None and self.killed is None and self.out.exists():
                rows = len(self.out.read_text().splitlines()) - 1
                pids = sorted(set(local_scoring_actor_pids()) - self.earlier)
                if rows >= self.kill_after_rows and pids:
                    os.kill(pids[0], signal.SIGKILL)
                    self.killed = {"pid": pids[0], "rows_written_at_kill": rows, "at": time.perf_counter()}
            time.sleep(0.2)


def _wait_for_actors_to_exit(timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while local_scoring_actor_pids() and time.monotonic() < deadline:
        time.sleep(1)


def run_one(name: str, method: str, args) -> dict:
    """One configuration, in this (fresh) process."""
    from anogan.data.inputs import open_input
    from anogan.engines.scoring_job import score_to_file
    from anogan.experiments.pipeline import prepare_scorer
    from anogan.gan.bundle import open_bundle
    from anogan.results.files import read_results

    engine_name, workers, worker_cpus, kill = CONFIGURATIONS[name]
    out = Path(args.work) / f"{method}_{name}.csv"
    out.unlink(missing_ok=True)
    source = open_input("mnist:test", args.data, limit=args.images)
    scorer, calibration = prepare_scorer(open_bundle(args.model), method, progress=False)
    engine = None
    if engine_name == "ray":
        from anogan.engines.ray_engine import RayEngine

        engine = RayEngine(workers=workers, worker_cpus=worker_cpus, progress=False)
    watch = WorkerWatch(out, len(source) // 3 if kill else None)
    watch.start()
    started = time.perf_counter()
    if engine is not None:
        engine.start()
    summary = score_to_file(source, scorer, calibration, out, progress=False, engine=engine)
    seconds = time.perf_counter() - started
    watch.stop.set()
    watch.join()
    frame = read_results(out)
    record = {
        "configuration": name, "method": method, "engine": engine_name, "workers": workers,
        "worker_cpus": worker_cpus, "images": len(source), "rows": len(frame),
        "distinct_inputs": int(frame["index"].nunique()), "scored": summary.scored,
        "seconds": round(seconds, 2), "images_per_second": round(summary.scored / seconds, 1),
        "first_row_seconds": round(watch.first_row_at - started, 2) if watch.first_row_at else None,
        "ray_startup_seconds": round(engine.startup_seconds, 2) if engine is not None else None,
        "driver_peak_rss_mib": round(_peak_rss_mib(os.getpid()), 1),
        "worker_peak_rss_mib": [round(v, 1) for v in watch.peaks.values()],
        "killed": {k: v for k, v in watch.killed.items() if k != "at"} if watch.killed else None,
    }
    local = Path(args.work) / f"{method}_local.csv"
    if engine is not None and local.exists():
        reference = read_results(local)
        record["max_score_difference_vs_local"] = float((frame["score"] - reference["score"]).abs().max())
        record["same_paths_and_errors_as_local"] = bool(
            frame[["index", "path", "error"]].equals(reference[["index", "path", "error"]]))
    return record


class ReplayEngine:
    """Hands the driver rows that were already scored, so only the driver's own work is timed."""

    name = "replay"

    def __init__(self, rows: list[str], chunk: int):
        self.rows, self.chunk = rows, chunk

    def start(self) -> None:
        pass

    def score_chunks(self, source, scorer, calibration, indices, chunk_size, maps_dir=None):
        for start in range(0, len(self.rows), self.chunk):
            yield [json.loads(row) for row in self.rows[start : start + self.chunk]]


class _Positions(list):
    def indices(self):
        return self


def driver_rows_per_second(work: Path, chunk: int = 256) -> float:
    """Rows per second the driver decodes (JSON, as they come from Ray) and writes (CSV, flushed per chunk)."""
    from types import SimpleNamespace

    from anogan.engines.scoring_job import score_to_file
    from anogan.results.files import read_results

    rows = [json.dumps({k: (None if v != v else v) for k, v in row.items()})  # NaN (error rows) as null
            for row in read_results(work / "encoder_local.csv").to_dict("records")]
    source = list(range(len(rows)))  # the positions; the rows themselves come from the replay engine
    out = work / "driver_replay.csv"
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    score_to_file(_Positions(source), SimpleNamespace(method="encoder"), None, out, chunk_size=chunk, progress=False,
                  engine=ReplayEngine(rows, chunk))
    return len(rows) / (time.perf_counter() - started)


def table(records: list[dict]) -> str:
    lines = ["| method | configuration | img/s | seconds | first row after s | Ray start-up s | "
             "peak RSS per worker (MiB) | driver peak RSS (MiB) | rows / inputs | max |Δscore| vs local |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        workers = ", ".join(f"{v:.0f}" for v in r["worker_peak_rss_mib"]) or "–"
        killed = f" (killed 1 worker at row {r['killed']['rows_written_at_kill']})" if r.get("killed") else ""
        diff = r.get("max_score_difference_vs_local")
        lines.append(
            f"| {r['method']} | {r['configuration']}{killed} | {r['images_per_second']} | {r['seconds']} | "
            f"{r.get('first_row_seconds') or '–'} | "
            f"{r['ray_startup_seconds'] if r['ray_startup_seconds'] is not None else '–'} | {workers} | "
            f"{r['driver_peak_rss_mib']:.0f} | {r['rows']} / {r['images']} ({r['distinct_inputs']} distinct) | "
            f"{'–' if diff is None else f'{diff:.1e}'} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a bundle with an encoder")
    parser.add_argument("--data", help="local MNIST files (mnist.npz)")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--out", default="benchmarks/results/ray-scaling")
    parser.add_argument("--work", default="runs/ray-scaling", help="where the scored files go")
    parser.add_argument("--one", nargs=2, metavar=("CONFIGURATION", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    Path(args.work).mkdir(parents=True, exist_ok=True)
    if args.one:
        print(RESULT_MARK + json.dumps(run_one(*args.one, args)), flush=True)
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    done = {(r["configuration"], r["method"]) for r in records}
    for method in METHODS:
        for name in CONFIGURATIONS:
            if (name, method) in done:
                continue
            _wait_for_actors_to_exit()
            command = [sys.executable, __file__, "--model", args.model, "--images", str(args.images),
                       "--work", args.work, "--one", name, method] + (["--data", args.data] if args.data else [])
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                print(result.stderr[-3000:], file=sys.stderr)
                return 1
            [line] = [line for line in result.stdout.splitlines() if line.startswith(RESULT_MARK)]
            record = json.loads(line[len(RESULT_MARK):])
            record["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            records.append(record)
            with open(log, "a") as handle:
                handle.write(json.dumps(record) + "\n")
            print(table([record]).splitlines()[-1], flush=True)
    writer_rate = driver_rows_per_second(Path(args.work))
    (out / "table.md").write_text(
        f"Scoring {args.images} MNIST test images with {args.model} on this machine ({os.cpu_count()} CPUs); "
        "each configuration in a fresh process (benchmarks/ray_scaling.py).\n\n" + table(records)
        + f"\nThe driver alone (rows decoded from JSON, written to CSV and flushed per chunk of 256): "
        f"{writer_rate:,.0f} rows/s.\n")
    print((out / "table.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
