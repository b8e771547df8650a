"""The ``anogan`` command line: a thin shell over the library, one module per command.

Every subcommand parses its options, calls one library function and prints
where the results are. A user error (bad file, unknown class, damaged
bundle) prints one line ``anogan: error: ...`` and exits with status 2.
``--help``, argument errors and missing files are answered before
TensorFlow loads. Shared options and the policy that turns them into
settings live in :mod:`anogan.cli.options`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from anogan.cli import benchmark, dashboard, evaluate, gan_report, run, score, serve, train
from anogan.errors import AnoganError

# Commands in the order ``anogan --help`` lists them.
COMMANDS = (train, score, evaluate, run, benchmark, gan_report, dashboard, serve)
NO_TENSORFLOW = ("evaluate", "dashboard", "serve")  # serve loads it with the scorer, after answering /healthz


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anogan",
        description="GAN-based anomaly detection for images (DCGAN + AnoGAN / f-AnoGAN scoring).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parsers(commands)
    return parser


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


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse a missing ``--model``, ``--data`` or input file before anything slow starts."""
    from anogan.data.datasets import DATASETS
    from anogan.data.inputs import SPLITS
    from anogan.gan.bundle import read_metadata

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
    args = build_parser().parse_args(argv)  # --help and argument errors end here, before TensorFlow loads
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
