"""The ``anogan`` command line: a thin shell over the library.

Every subcommand parses its options, calls one library function and prints
where the results are. A user error (bad file, unknown class, damaged
bundle) prints one line ``anogan: error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Optional, Sequence

from anogan.data import DATASETS, DEV_ANOMALIES
from anogan.errors import AnoganError
from anogan.images import MAX_FILE_BYTES
from anogan.models import PRECISIONS
from anogan.recipes import DEFAULT_RECIPE, LEGACY_METHOD, MAIN_JOB_MIN_STEPS, RECIPES, TRAINING_FLAGS, get_recipe
from anogan.scoring import METHODS, SETTING_CHOICES, SETTING_FLAGS, ScoringSettings
from anogan.training import CHECKPOINT_SECONDS


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", required=True, choices=DATASETS,
        help="mnist / fashion-mnist (Keras loaders, or local files with --data); "
        "mnist-5k (embedded 5,000-image MNIST subset, offline); folder (--data DIR of class subfolders)",
    )
    parser.add_argument(
        "--data", metavar="PATH",
        help="local data: a Keras-layout .npz (x_train, y_train, x_test, y_test), a folder with the four "
        "IDX .gz files, or for --dataset folder a folder of class subfolders",
    )


def _add_bundle_options(parser: argparse.ArgumentParser, scoring: bool = False) -> None:
    """``--model`` and, for a scoring command, ``--method`` and ``--recipe`` (default: the bundle's recipe)."""
    parser.add_argument("--model", required=True, metavar="RUN_DIR", help="the model bundle")
    if scoring:
        parser.add_argument("--method", choices=METHODS,
                            help="scoring method (default: the method of the bundle's recipe; bundles trained "
                            f"before recipes: {LEGACY_METHOD})")
        parser.add_argument("--recipe", choices=RECIPES,
                            help="score with this recipe's method and settings instead of the bundle's own")


def _add_recipe_options(parser: argparse.ArgumentParser, val_fraction: Optional[float] = None,
                        encoder: bool = True, min_steps_note: str = "") -> None:
    """``--recipe`` and the training settings it fixes, each replacing one setting (default: the recipe's)."""
    recommended = get_recipe(DEFAULT_RECIPE).training
    group = parser.add_argument_group("recipe (each option below replaces one setting of the recipe; the bundle "
                                      "records what was replaced)")
    group.add_argument("--recipe", choices=RECIPES, default=DEFAULT_RECIPE,
                       help=f"the configuration to train and score with (default {DEFAULT_RECIPE}: the best "
                       "measured on the dev split; document: the seed document's DCGAN recipe exactly)")
    for name, (flag, text) in TRAINING_FLAGS.items():
        if name == "encoder_epochs" and not encoder:
            continue
        default = val_fraction if name == "val_fraction" else None
        shown = f"default {default:g}" if default is not None else f"{DEFAULT_RECIPE}: {getattr(recommended, name):g}"
        if name == "min_steps" and min_steps_note:
            shown = min_steps_note
        group.add_argument(flag, dest=f"train_{name}", type=type(getattr(recommended, name)), default=default,
                           metavar=name.upper(), help=f"{text} ({shown})")


def _training_overrides(args: argparse.Namespace) -> dict:
    """The recipe's training settings named on the command line (``None``: not named)."""
    return {name: getattr(args, f"train_{name}", None) for name in TRAINING_FLAGS}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anogan",
        description="GAN-based anomaly detection for images (DCGAN + AnoGAN / f-AnoGAN scoring).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train the DCGAN on normal images and write a model bundle",
        description="Train the DCGAN on the normal classes' training images only (one-class protocol) "
        "and write a model bundle, per-epoch history, sample grids and checkpoints to --out.",
    )
    _add_data_options(train)
    train.add_argument("--normal", action="append", required=True, metavar="CLASS",
                       help="a normal class, by name or index; repeat for several (every other class is an anomaly)")
    train.add_argument("--seed", type=int, default=0,
                       help="seed for weights, noise, shuffling and the validation split (default 0); "
                       "the same seed and data give the same weights on CPU")
    train.add_argument("--xla", dest="jit_compile", action="store_true",
                       help="compile the train step with XLA (off by default: slower on the CPUs we measured)")
    _add_precision_option(train)
    _add_recipe_options(train, encoder=False)
    train.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory for the bundle and logs")
    train.add_argument("--resume", action="store_true",
                       help="continue an interrupted run in RUN_DIR from its last checkpoint")
    train.add_argument("--checkpoint-seconds", type=float, default=CHECKPOINT_SECONDS, metavar="SECONDS",
                       help="write a checkpoint at most this often, and after the first and the last epoch "
                       f"(default {CHECKPOINT_SECONDS:g}; 0: every epoch)")
    train.set_defaults(handler=_train)

    encoder = commands.add_parser(
        "train-encoder", help="train the f-AnoGAN encoder of a bundle (G and D frozen)",
        description="Train the f-AnoGAN izi_f encoder E on the bundle's normal training images with the "
        "generator and discriminator frozen: MSE(x, G(E(x))) + kappa * MSE(f(x), f(G(E(x)))). "
        "The encoder is saved into the bundle and the encoder-based methods are calibrated.",
    )
    _add_bundle_options(encoder)
    encoder.add_argument("--epochs", type=int, default=30, help="encoder training epochs (default 30)")
    encoder.add_argument("--batch-size", type=int, default=64, help="images per step (default 64)")
    encoder.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    encoder.add_argument("--kappa", type=float, default=1.0, help="weight of the feature term (default 1)")
    encoder.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    encoder.set_defaults(handler=_train_encoder)

    calibrate = commands.add_parser(
        "calibrate", help="set a method's threshold from the bundle's normal validation images",
        description="Score the bundle's held-out normal validation images and store the threshold in the "
        "bundle: a split-conformal threshold for a false-positive rate, or F1-max when labelled anomalies are given. "
        "Never calibrate on the data you evaluate.",
    )
    _add_bundle_options(calibrate, scoring=True)
    calibrate.add_argument("--false-positive-rate", type=float, default=0.01, metavar="RATE",
                           help="share of normal images the threshold may flag (default 0.01); a split-conformal "
                           "threshold on the normal validation scores keeps that promise on new normal images")
    calibrate.add_argument("--anomalies", metavar="INPUT",
                           help="labelled anomaly images for an F1-max threshold (a folder or .npz; "
                           "validation data, never the test set)")
    _add_scoring_options(calibrate, from_bundle=True)
    calibrate.set_defaults(handler=_calibrate)

    score = commands.add_parser(
        "score", help="score a folder, an .npz or a dataset split into a results CSV",
        description="Score every input into one CSV row: scores, normalized score, verdict against the "
        "bundle's threshold, and an error column for inputs that could not be read. Exits non-zero only "
        "when nothing could be scored.",
    )
    score.add_argument("input", metavar="INPUT",
                       help="a folder of images (recursive; the parent folder name is the class), an .npz "
                       "with x (and optional y), or a dataset split such as mnist:test")
    _add_bundle_options(score, scoring=True)
    score.add_argument("--out", required=True, metavar="RESULTS_CSV", help="the results file")
    score.add_argument("--data", metavar="PATH", help="local data files for a dataset split INPUT")
    score.add_argument("--maps", metavar="DIR", help="write reconstruction and residual heat-map PNGs here")
    score.add_argument("--resume", action="store_true", help="skip inputs already in RESULTS_CSV")
    score.add_argument("--limit", type=int, help="score a seeded random subset of this many inputs")
    score.add_argument("--sample-seed", type=int, default=0, help="seed of the --limit subset (default 0)")
    score.add_argument("--format", dest="file_format", choices=("csv", "parquet"),
                       help="results file format (default: parquet for a .parquet --out, else csv)")
    _add_engine_options(score, "score the inputs on a pool of Ray actors, one scorer each")
    _add_scoring_options(score, from_bundle=True)
    score.set_defaults(handler=_score)

    evaluate = commands.add_parser(
        "evaluate", help="metrics and plots of a results CSV",
        description="AUROC, AUPRC, F1-max, precision/recall/F1 at the bundle's threshold and a per-class "
        "summary (scikit-learn metrics); writes metrics.json, ROC/PR curve CSVs and ROC, PR and "
        "histogram PNGs.",
    )
    evaluate.add_argument("results", metavar="RESULTS_CSV", help="a file written by 'anogan score'")
    evaluate.add_argument("--out", metavar="DIR",
                          help="folder for metrics and plots (default: RESULTS_evaluation next to the results file)")
    evaluate.add_argument("--unknown-as", choices=("normal", "anomaly"),
                          help="label rows whose class the bundle does not know (left out of the metrics otherwise)")
    evaluate.set_defaults(handler=_evaluate)

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
    _add_precision_option(run)
    _add_recipe_options(run, val_fraction=0.25,
                        min_steps_note=f"default {MAIN_JOB_MIN_STEPS} unless --epochs is given: the main job's "
                        "schedule, chosen on the dev split; the recommended recipe's own is 1500")
    _add_scoring_options(run)
    run.set_defaults(handler=_run)

    bench = commands.add_parser(
        "benchmark", help="one-class benchmark: every normal class x seed x method, resumable",
        description="For each normal class and seed, train on that class's training images only, score the "
        "official test split and record AUROC, AUPRC, F1-max, training time and throughput, one JSON file "
        "per (dataset, class, seed, method). Finished results are skipped on a rerun. Writes summary.csv, "
        "summary.md and summary.png.",
    )
    _add_data_options(bench)
    bench.add_argument("--classes", default="0-9", help="normal classes, e.g. 0-9 or 1,3,5 (default 0-9)")
    bench.add_argument("--seeds", default="0", help="comma-separated seeds (default 0)")
    _add_precision_option(bench)
    _add_recipe_options(bench)
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
    bench.add_argument("--runs-dir", help="where model bundles go (default OUT/runs)")
    bench.add_argument("--out", required=True, metavar="DIR", help="folder for the result files and summaries")
    _add_engine_options(bench, "run each (class, seed) as a Ray task")
    _add_scoring_options(bench)
    bench.set_defaults(handler=_benchmark)

    dashboard = commands.add_parser(
        "dashboard", help="open the Streamlit dashboard",
        description="Start the Streamlit dashboard (dashboard/app.py) over a runs directory. Extra arguments "
        "after -- go to 'streamlit run' (e.g. -- --server.port 8600 --server.headless true).",
    )
    dashboard.add_argument("--runs-dir", default=os.environ.get("ANOGAN_RUNS_DIR", "runs"),
                           help="folder holding model bundles and results (default runs/, or $ANOGAN_RUNS_DIR)")
    dashboard.add_argument("--host", default="127.0.0.1",
                           help="address to listen on (default 127.0.0.1: this machine only). Another address "
                           "opens the dashboard to the network and needs $ANOGAN_DASHBOARD_TOKEN or "
                           "--insecure-no-auth")
    dashboard.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    dashboard.add_argument("--insecure-no-auth", action="store_true",
                           help="allow listening beyond this machine without an access token")
    dashboard.add_argument("streamlit_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    dashboard.set_defaults(handler=_dashboard)
    return parser



def _add_precision_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="float32 (default, the document's) or mixed_bfloat16: hidden layers in bfloat16 for "
                        "faster training on CPUs with bfloat16 instructions; the bundle is saved in float32")


def _add_engine_options(parser: argparse.ArgumentParser, ray_does: str) -> None:
    group = parser.add_argument_group("engine")
    group.add_argument("--engine", choices=("local", "ray"), default="local",
                       help=f"local: this process (default); ray: {ray_does} (pip install \"anogan[ray]\")")
    group.add_argument("--ray-address", metavar="ADDRESS",
                       help="Ray cluster to join: auto (the running one) or host:port (default: start a local Ray)")
    group.add_argument("--workers", type=int, metavar="N",
                       help="Ray scoring actors (default: the cluster's CPUs / --worker-cpus)")
    group.add_argument("--worker-cpus", type=float, default=1.0, metavar="C",
                       help="CPUs per Ray actor or task; TensorFlow uses that many threads there (default 1)")


def _engine(args: argparse.Namespace):
    if args.engine == "local":
        if args.ray_address or args.workers is not None:
            raise AnoganError("--ray-address and --workers need --engine ray")
        return None
    from anogan.ray_engine import RayEngine

    return RayEngine(address=args.ray_address, workers=args.workers, worker_cpus=args.worker_cpus)


def _add_scoring_options(parser: argparse.ArgumentParser, from_bundle: bool = False) -> None:
    """The scoring settings' flags; an unnamed setting is the recipe's (or, with ``from_bundle``, the bundle's)."""
    group = parser.add_argument_group(
        "scoring settings (unnamed ones: " + ("as the bundle's current calibration of the method, else " if from_bundle
                                              else "") + "as the recipe, for the recipe's method; else the default)")
    for f in fields(ScoringSettings):
        flag, text = SETTING_FLAGS[f.name]
        if isinstance(f.default, bool):
            group.add_argument(flag, dest=f"score_{f.name}", action=argparse.BooleanOptionalAction, default=None,
                               help=f"{text} (default {'on' if f.default else 'off'})")
        else:
            choices = SETTING_CHOICES.get(f.name)
            group.add_argument(flag, dest=f"score_{f.name}", type=type(f.default), default=None,
                               choices=choices, metavar=None if choices else f.name.upper(),
                               help=f"{text} (default {f.default})")


def _named_settings(args: argparse.Namespace) -> dict:
    """The scoring settings named on the command line."""
    named = {f.name: getattr(args, f"score_{f.name}") for f in fields(ScoringSettings)}
    return {k: v for k, v in named.items() if v is not None}


def _scoring_choice(args: argparse.Namespace, bundle):
    """The method and settings a scoring command uses: the bundle's recipe (or ``--recipe``), then named flags.

    Prints what it chose when anything came from the bundle or a recipe, so
    a bare ``anogan score`` says which recipe it scores with.
    """
    from anogan.recipes import ScoringChoice, scoring_choice

    choice = scoring_choice(bundle, args.method, args.recipe)
    named = _named_settings(args)
    settings = replace(choice.settings, **named)
    flags = " ".join(settings.as_flags())
    print(f"{choice.method}: scoring with {choice.source}" + (", and the settings named here" if named else "")
          + (f" ({flags})" if flags else ""))
    return ScoringChoice(choice.method, settings, choice.source)


def _train(args: argparse.Namespace) -> int:
    from anogan.recipes import get_recipe
    from anogan.training import train

    overrides = _training_overrides(args)
    config = get_recipe(args.recipe).train_config(args.dataset, args.normal, data=args.data, seed=args.seed,
                                                  jit_compile=args.jit_compile, precision=args.precision, **overrides)
    bundle = train(config, args.out, resume=args.resume, checkpoint_seconds=args.checkpoint_seconds)
    run = bundle.run_directory()
    print(f"model bundle: {bundle.path} (recipe {args.recipe}"
          + (f", replaced: {_describe(config.recipe['overrides'])})" if config.recipe["overrides"] else ")"))
    print(f"samples:      {run.samples}")
    print(f"history:      {run.history}")
    return 0


def _describe(values: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in values.items())


def _train_encoder(args: argparse.Namespace) -> int:
    from anogan.artifacts import load_bundle
    from anogan.pipeline import prepare_scorer
    from anogan.training import train_encoder

    bundle = train_encoder(load_bundle(args.model), epochs=args.epochs, batch_size=args.batch_size,
                           learning_rate=args.learning_rate, kappa=args.kappa, seed=args.seed)
    prepare_scorer(bundle, "encoder")  # the scoring default, whatever kappa trained the encoder
    print(f"encoder saved in {bundle.path / 'encoder.keras'}; history in {bundle.run_directory().encoder_history}")
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from anogan.inputs import open_input
    from anogan.pipeline import open_bundle
    from anogan.scoring import Scorer
    from anogan.thresholds import calibrate

    anomalies = open_input(args.anomalies).readable_images() if args.anomalies else None
    bundle = open_bundle(args.model)
    choice = _scoring_choice(args, bundle)
    scorer = Scorer(bundle, choice.method, choice.settings)
    calibration = calibrate(scorer, false_positive_rate=args.false_positive_rate, anomalies=anomalies)
    print(f"{choice.method}: threshold {calibration.threshold:.6g} ({calibration.rule}, "
          f"{len(calibration.validation_scores)} normal validation images)")
    if calibration.note:
        print(f"note: {calibration.note}")
    return 0


def _score(args: argparse.Namespace) -> int:
    from anogan.inputs import open_input
    from anogan.pipeline import open_bundle, prepare_scorer
    from anogan.results import score_to_file

    engine = _engine(args)
    source = open_input(args.input, args.data, limit=args.limit, sample_seed=args.sample_seed)
    bundle = open_bundle(args.model)
    choice = _scoring_choice(args, bundle)
    scorer, calibration = prepare_scorer(bundle, choice.method, choice.settings)
    if calibration.note:
        print(f"note on the threshold: {calibration.note}")
    summary = score_to_file(source, scorer, calibration, args.out, maps_dir=args.maps, resume=args.resume,
                            file_format=args.file_format, engine=engine)
    if engine is not None and engine.startup_seconds is not None:
        print(f"ray: connected in {engine.startup_seconds:.1f} s")
    print(f"scored {summary.scored} of {summary.total} inputs ({summary.errors} errors, "
          f"{summary.skipped} already done) at {summary.images_per_second:.1f} img/s; "
          f"{summary.flagged} flagged as anomalies ({summary.out_of_domain} of them not images of the trained kind)")
    for path, reason in summary.failures:
        print(f"  not scored: {path}: {reason}")
    if summary.errors > len(summary.failures):
        print(f"  … and {summary.errors - len(summary.failures)} more (see the error column)")
    print(f"results: {args.out}")
    if not summary.anything_scored:
        print("anogan: error: no input could be scored", file=sys.stderr)
        return 1
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from anogan.evaluation import evaluate

    out = args.out or Path(args.results).with_name(f"{Path(args.results).stem}_evaluation")
    metrics = evaluate(args.results, out, unknown_as=args.unknown_as)
    _print_metrics(metrics)
    print(f"metrics and plots: {out}")
    return 0


def _print_metrics(metrics: dict) -> None:
    if "auroc" in metrics:
        at = metrics["at_bundle_threshold"]
        print(f"{metrics['method']}: AUROC {metrics['auroc']:.4f}  AUPRC {metrics['auprc']:.4f}  "
              f"TPR at 1 % / 5 % FPR {metrics['tpr_at_1pct_fpr']:.3f} / {metrics['tpr_at_5pct_fpr']:.3f}\n"
              f"  at the bundle's threshold: recall {at['recall']:.3f} ({at['tp']} of {at['tp'] + at['fn']} "
              f"anomalies caught), {at['fp']} of {at['fp'] + at['tn']} normal images flagged, precision "
              f"{at['precision']:.3f}  ({metrics['n_errors']} errors)")
    else:
        print(f"{metrics['method']}: {metrics.get('note', 'no labelled rows')}")
    if metrics.get("n_unlabelled"):
        print(f"  {metrics['n_unlabelled']} scored rows have a class the bundle does not know and were left out "
              "of the metrics; label them with --unknown-as normal|anomaly")


def _run(args: argparse.Namespace) -> int:
    import time

    from anogan.pipeline import run_job

    started = time.perf_counter()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    job = run_job(
        args.out, dataset=args.dataset, data=args.data, normal=args.normal or ["0"], recipe=args.recipe,
        methods=methods, scoring_overrides=_named_settings(args), limit=args.limit, seed=args.seed,
        precision=args.precision, **_training_overrides(args),
    )
    print(f"\nrecipe {job.recipe}:")
    for metrics in job.metrics.values():
        _print_metrics(metrics)
    print(f"\nmodel bundle:  {job.bundle_path}  (samples in {job.bundle_path / 'samples'})")
    for method, results in job.results.items():
        print(f"{method + ':':<14} {results}  (plots in {job.bundle_path / f'evaluation_{method}'})")
    print(f"dashboard:     {_own_command()} dashboard --runs-dir {job.bundle_path.parent}")
    print(f"done in {(time.perf_counter() - started) / 60:.1f} minutes")
    return 0


def _own_command() -> str:
    """``anogan`` when that name runs this program, else the full path of the executable (e.g. an inactive venv)."""
    import shutil

    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    on_path = shutil.which("anogan")
    if on_path and (script is None or Path(on_path).resolve() == script):
        return "anogan"
    candidate = Path(sys.executable).with_name("anogan")
    return str(candidate) if candidate.exists() else f"{sys.executable} -m anogan"


def _benchmark(args: argparse.Namespace) -> int:
    from anogan.benchmark import BenchmarkConfig, candidates_for, parse_classes, run_benchmark, summarize

    config = BenchmarkConfig(dataset=args.dataset, data=args.data, recipe=args.recipe, precision=args.precision,
                             training=_training_overrides(args), anogan_limit=args.anogan_limit, split=args.split,
                             dev_anomalies=args.dev_anomalies)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    candidates = candidates_for(config, methods, _named_settings(args), args.candidate)
    run_benchmark(config, parse_classes(args.classes), seeds, candidates, args.out, runs_dir=args.runs_dir,
                  engine=_engine(args))
    table = summarize(args.out)
    if table:
        print(table.read_text())
    return 0


def dashboard_app_path() -> Path:
    """The dashboard's entry script: ``anogan.dashboard`` (``dashboard/`` of the repository, or of the installed package)."""
    import importlib.util

    spec = importlib.util.find_spec("anogan.dashboard")
    if spec is None or not spec.submodule_search_locations:
        raise AnoganError("the dashboard is not installed with this anogan (reinstall it: pip install anogan)")
    return Path(list(spec.submodule_search_locations)[0]) / "app.py"


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _dashboard(args: argparse.Namespace) -> int:
    app = dashboard_app_path()
    if not app.is_file():
        raise AnoganError(f"dashboard not found at {app}; reinstall anogan")
    runs = Path(args.runs_dir).resolve()
    if not runs.is_dir():
        raise AnoganError(f"runs directory not found: {runs}")
    has_token = bool(os.environ.get("ANOGAN_DASHBOARD_TOKEN"))
    if not _is_loopback(args.host) and not has_token:
        if not args.insecure_no_auth:
            raise AnoganError(
                f"--host {args.host} opens the dashboard to the network: set ANOGAN_DASHBOARD_TOKEN to require an "
                "access token, or pass --insecure-no-auth to allow anyone who can reach this machine"
            )
        print(f"anogan: warning: listening on {args.host} with no access token; anyone who can reach this "
              "machine can read the runs folder and score images", file=sys.stderr)
    extra = [a for a in args.streamlit_args if a != "--"]
    settings = ["--server.address", args.host, "--server.port", str(args.port),
                "--server.maxUploadSize", str(MAX_FILE_BYTES // 2**20),
                "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]
    env = {**os.environ, "ANOGAN_RUNS_DIR": str(runs)}
    print(f"dashboard over {runs} on http://{args.host}:{args.port}", flush=True)
    # Streamlit replaces this process, so Ctrl-C and SIGTERM reach the server itself.
    os.execve(sys.executable, [sys.executable, "-m", "streamlit", "run", str(app), *settings, *extra], env)


def _show_progress() -> None:
    """Print the library's progress lines (logger ``anogan.progress``) on the current standard output."""
    progress = logging.getLogger("anogan.progress")
    for handler in list(progress.handlers):
        progress.removeHandler(handler)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    progress.addHandler(handler)
    progress.setLevel(logging.INFO)
    progress.propagate = False


NO_TENSORFLOW = ("evaluate", "dashboard")


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse a missing ``--model``, ``--data`` or input file before anything slow starts."""
    from anogan.artifacts import read_metadata
    from anogan.inputs import SPLITS

    data = getattr(args, "data", None)
    if data is not None and not Path(data).exists():
        raise AnoganError(f"data file not found: {data}")
    source = getattr(args, "input", None)
    if source is not None and not Path(source).exists():
        name, _, split = source.partition(":")
        if name not in DATASETS or split not in SPLITS:
            raise AnoganError(f"input not found: {source} is not a folder, a file, or a dataset split like mnist:test")
    if getattr(args, "model", None) is not None:
        read_metadata(args.model)


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with the process's stderr pointed at /dev/null for the while.

    Its C++ start-up lines (the oneDNN notice, twice) are not the user's
    business and cannot be silenced by its log-level variables in TF 2.21; a
    failing import still raises, with its message, once stderr is back.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``anogan`` console script."""
    import anogan  # noqa: F401  (sets TensorFlow's log level before it loads)

    logging.basicConfig(level=logging.WARNING, format="anogan: %(levelname)s: %(message)s")
    _show_progress()
    args = _build_parser().parse_args(argv)  # --help and argument errors end here, before TensorFlow loads
    try:
        _check_paths(args)  # so is a missing file: TensorFlow takes seconds to load
        if args.command not in NO_TENSORFLOW:
            _import_tensorflow_quietly()
        return args.handler(args)
    except AnoganError as exc:
        print(f"anogan: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("anogan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
