"""``anogan benchmark``: the one-class benchmark, on the test or the dev split."""

from __future__ import annotations

import argparse

from anogan.cli.options import (
    add_data_options,
    add_engine_options,
    add_precision_option,
    add_recipe_options,
    add_scoring_options,
    engine_of,
    method_list,
    named_settings,
    training_overrides,
    variant_settings,
)
from anogan.data.protocol import DEV_ANOMALIES


def add_parsers(commands) -> None:
    bench = commands.add_parser(
        "benchmark", help="one-class benchmark: every normal class x seed x method, resumable",
        description="For each normal class and seed, train on that class's training images only, score the "
        "official test split and record AUROC, AUPRC, F1-max, training time and throughput, one JSON file "
        "per (dataset, class, seed, method). Finished results are skipped on a rerun. Writes summary.csv, "
        "summary.md and summary.png.",
    )
    add_data_options(bench)
    bench.add_argument("--classes", default="0-9", help="normal classes, e.g. 0-9 or 1,3,5 (default 0-9)")
    bench.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    bench.add_argument("--split-seed", type=int, metavar="SEED",
                       help="hold out the same normal validation images (and dev split) for every seed: the split "
                       "of this seed (default: each seed its own)")
    add_precision_option(bench)
    add_recipe_options(bench)
    bench.add_argument("--methods", help="comma-separated methods (default: the recipe's method)")
    bench.add_argument("--anogan-limit", type=int, default=1000,
                       help="the anogan method with inversion steps scores a fixed seeded subset of this many "
                       "test images (default 1000)")
    bench.add_argument("--split", choices=("test", "dev"), default="test",
                       help="test: the official test split, run once per frozen configuration (default); dev: "
                       "held-out normal training images against a seeded sample of the other classes' training "
                       "images, where every choice is made")
    bench.add_argument("--dev-anomalies", type=int, default=DEV_ANOMALIES,
                       help="other classes' training images in the dev split (default %(default)s)")
    bench.add_argument("--candidate", metavar="NAME",
                       help="name of this configuration in the result files (default: the recipe's name for its "
                       "own method, RECIPE-METHOD for another; RECIPE-custom-HASH when settings are replaced)")
    bench.add_argument("--variant", action="append", default=[], metavar='"NAME FLAGS"',
                       help="also score the (first) candidate with some scoring settings replaced, under NAME, on "
                       "the same bundles, e.g. \"aligned --residual aligned\" (repeatable; on the dev split, "
                       "variants with the same search share one inversion)")
    bench.add_argument("--runs-dir", help="where model bundles go (default OUT/runs)")
    bench.add_argument("--out", required=True, metavar="DIR", help="folder for the result files and summaries")
    add_engine_options(bench, "run each (class, seed) as a Ray task")
    add_scoring_options(bench)
    bench.set_defaults(handler=benchmark_command)


def benchmark_command(args: argparse.Namespace) -> int:
    from anogan.experiments.benchmark import BenchmarkConfig, Candidate, candidates_for, parse_classes, run_benchmark
    from anogan.experiments.reports import summarize

    config = BenchmarkConfig(dataset=args.dataset, data=args.data, recipe=args.recipe, precision=args.precision,
                             training=training_overrides(args), anogan_limit=args.anogan_limit, split=args.split,
                             dev_anomalies=args.dev_anomalies, split_seed=args.split_seed)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    candidates = candidates_for(config, method_list(args.methods), named_settings(args), args.candidate)
    for text in args.variant:
        name, settings = variant_settings(candidates[0].settings, text)
        candidates.append(Candidate(name, candidates[0].method, settings))
    run_benchmark(config, parse_classes(args.classes), seeds, candidates, args.out, runs_dir=args.runs_dir,
                  engine=engine_of(args))
    table = summarize(args.out)
    if table:
        print(table.read_text())
    return 0
