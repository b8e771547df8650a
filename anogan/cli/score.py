"""``anogan calibrate`` and ``anogan score``."""

from __future__ import annotations

import argparse
import sys

from anogan.cli.options import add_bundle_options, add_engine_options, add_scoring_options, engine_of, scoring_choice_of


def add_parsers(commands) -> None:
    calibrate = commands.add_parser(
        "calibrate", help="set a method's threshold from the bundle's normal validation images",
        description="Score the bundle's held-out normal validation images and store the threshold in the "
        "bundle: a split-conformal threshold for a false-positive rate, or F1-max when labelled anomalies are given. "
        "Never calibrate on the data you evaluate.",
    )
    add_bundle_options(calibrate, scoring=True)
    calibrate.add_argument("--false-positive-rate", type=float, default=0.01, metavar="RATE",
                           help="share of normal images the threshold may flag (default 0.01); a split-conformal "
                           "threshold on the normal validation scores keeps that promise on new normal images")
    calibrate.add_argument("--anomalies", metavar="INPUT",
                           help="labelled anomaly images for an F1-max threshold (a folder or .npz; "
                           "validation data, never the test set)")
    add_scoring_options(calibrate, from_bundle=True)
    calibrate.set_defaults(handler=calibrate_command)

    score = commands.add_parser(
        "score", help="score a folder, an .npz or a dataset split into a results CSV",
        description="Score every input into one CSV row: scores, normalized score, verdict against the "
        "bundle's threshold, and an error column for inputs that could not be read. Exits non-zero only "
        "when nothing could be scored.",
    )
    score.add_argument("input", metavar="INPUT",
                       help="a folder of images (recursive; the parent folder name is the class), an .npz "
                       "with x (and optional y), or a dataset split such as mnist:test")
    add_bundle_options(score, scoring=True)
    score.add_argument("--out", required=True, metavar="RESULTS_CSV", help="the results file")
    score.add_argument("--data", metavar="PATH", help="local data files for a dataset split INPUT")
    score.add_argument("--maps", metavar="DIR", help="write reconstruction and residual heat-map PNGs here")
    score.add_argument("--resume", action="store_true", help="skip inputs already in RESULTS_CSV")
    score.add_argument("--limit", type=int, help="score a seeded random subset of this many inputs")
    score.add_argument("--sample-seed", type=int, default=0, help="seed of the --limit subset (default 0)")
    score.add_argument("--format", dest="file_format", choices=("csv", "parquet"),
                       help="results file format (default: parquet for a .parquet --out, else csv)")
    add_engine_options(score, "score the inputs on a pool of Ray actors, one scorer each")
    add_scoring_options(score, from_bundle=True)
    score.set_defaults(handler=score_command)


def calibrate_command(args: argparse.Namespace) -> int:
    from anogan.data.inputs import open_input
    from anogan.gan.bundle import open_bundle
    from anogan.scoring.calibration import calibrate
    from anogan.scoring.scorer import Scorer

    anomalies = open_input(args.anomalies).readable_images() if args.anomalies else None
    bundle = open_bundle(args.model)
    choice = scoring_choice_of(args, bundle)
    scorer = Scorer(bundle, choice.method, choice.settings)
    calibration = calibrate(scorer, false_positive_rate=args.false_positive_rate, anomalies=anomalies)
    print(f"{choice.method}: threshold {calibration.threshold:.6g} ({calibration.rule}, "
          f"{len(calibration.validation_scores)} normal validation images)")
    if calibration.note:
        print(f"note: {calibration.note}")
    return 0


def score_command(args: argparse.Namespace) -> int:
    from anogan.data.inputs import open_input
    from anogan.engines.scoring_job import score_to_file
    from anogan.experiments.pipeline import prepare_scorer
    from anogan.gan.bundle import open_bundle
    from anogan.gan.monitor import health_warning

    engine = engine_of(args)
    source = open_input(args.input, args.data, limit=args.limit, sample_seed=args.sample_seed)
    bundle = open_bundle(args.model)
    choice = scoring_choice_of(args, bundle)
    scorer, calibration = prepare_scorer(bundle, choice.method, choice.settings)
    if calibration.note:
        print(f"note on the threshold: {calibration.note}")
    warning = health_warning(bundle.metadata)
    summary = score_to_file(source, scorer, calibration, args.out, maps_dir=args.maps, resume=args.resume,
                            file_format=args.file_format, engine=engine)
    if engine is not None and engine.startup_seconds is not None:
        print(f"ray: connected in {engine.startup_seconds:.1f} s")
    _print_summary(summary)
    if warning:
        print(f"warning: training health: {warning}; scores that compare images with G(z) are unreliable")
    print(f"results: {args.out}")
    if not summary.anything_scored:
        print("anogan: error: no input could be scored", file=sys.stderr)
        return 1
    return 0


def _print_summary(summary) -> None:
    print(f"scored {summary.scored} of {summary.total} inputs ({summary.errors} errors, "
          f"{summary.skipped} already done) at {summary.images_per_second:.1f} img/s; "
          f"{summary.flagged} flagged as anomalies ({summary.out_of_domain} of them not images of the trained kind)")
    for path, reason in summary.failures:
        print(f"  not scored: {path}: {reason}")
    if summary.errors > len(summary.failures):
        print(f"  … and {summary.errors - len(summary.failures)} more (see the error column)")
