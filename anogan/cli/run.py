"""``anogan run``: the main job, from training to evaluation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from anogan.cli.evaluate import print_metrics
from anogan.cli.options import (
    add_precision_option,
    add_recipe_options,
    add_scoring_options,
    method_list,
    named_settings,
    training_overrides,
)
from anogan.data.datasets import DATASETS
from anogan.scoring.recipes import MAIN_JOB_MIN_STEPS


def add_parsers(commands) -> None:
    run = commands.add_parser(
        "run", help="the main job: train, train the encoder, calibrate, score the test split, evaluate",
        description="Run the whole job on one dataset (default: the embedded mnist-5k, normal digit 0). "
        "Stages already finished in --out are skipped, so an interrupted job continues where it stopped.",
    )
    run.add_argument("--dataset", default="mnist-5k", choices=DATASETS,
                     help="data source (default mnist-5k, embedded)")
    run.add_argument("--data", metavar="PATH", help="local data files (see 'anogan train --help')")
    run.add_argument("--normal", action="append", metavar="CLASS", help="a normal class; repeatable (default 0)")
    run.add_argument("--methods",
                     help="comma-separated scoring methods (default: the recipe's method, and feature-knn beside it)")
    run.add_argument("--limit", type=int, help="score a seeded subset of this many test images")
    run.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    run.add_argument("--out", default="runs/mnist5k-0", metavar="RUN_DIR", help="output folder (default runs/mnist5k-0)")
    add_precision_option(run)
    add_recipe_options(run, val_fraction=0.25,
                       min_steps_note=f"default {MAIN_JOB_MIN_STEPS} unless --epochs is given: the main job's "
                       "schedule, chosen on the dev split; the recommended recipe's own is 1500")
    add_scoring_options(run)
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    import time

    from anogan.experiments.pipeline import run_job
    from anogan.gan.bundle import read_metadata
    from anogan.gan.monitor import health_line

    started = time.perf_counter()
    job = run_job(
        args.out, dataset=args.dataset, data=args.data, normal=args.normal or ["0"], recipe=args.recipe,
        methods=method_list(args.methods), scoring_overrides=named_settings(args), limit=args.limit, seed=args.seed,
        precision=args.precision, **training_overrides(args),
    )
    print(f"\nrecipe {job.recipe}:")
    for metrics in job.metrics.values():
        print_metrics(metrics)
    print(f"\nmodel bundle:  {job.bundle_path}  (samples in {job.bundle_path / 'samples'})")
    print(f"GAN health:    {health_line(read_metadata(job.bundle_path))}  ({own_command()} gan-report --model "
          f"{job.bundle_path})")
    for method, results in job.results.items():
        print(f"{method + ':':<14} {results}  (plots in {job.bundle_path / f'evaluation_{method}'})")
    print(f"dashboard:     {own_command()} dashboard --runs-dir {job.bundle_path.parent}")
    print(f"done in {(time.perf_counter() - started) / 60:.1f} minutes")
    return 0


def own_command() -> str:
    """``anogan`` when that name runs this program, else the full path of the executable (e.g. an inactive venv)."""
    import shutil

    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    on_path = shutil.which("anogan")
    if on_path and (script is None or Path(on_path).resolve() == script):
        return "anogan"
    candidate = Path(sys.executable).with_name("anogan")
    return str(candidate) if candidate.exists() else f"{sys.executable} -m anogan"
