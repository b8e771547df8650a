"""The ``anogan`` command line: a thin shell over the library.

Every subcommand parses its options, calls one library function and prints
where the results are. A user error (bad file, unknown class, damaged
bundle) prints one line ``anogan: error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional, Sequence

from anogan.errors import AnoganError


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset", required=True, choices=("mnist", "fashion-mnist", "mnist-5k", "folder"),
        help="mnist / fashion-mnist (Keras loaders, or local files with --data); "
        "mnist-5k (embedded 5,000-image MNIST subset, offline); folder (--data DIR of class subfolders)",
    )
    parser.add_argument(
        "--data", metavar="PATH",
        help="local data: a Keras-layout .npz (x_train, y_train, x_test, y_test), a folder with the four "
        "IDX .gz files, or for --dataset folder a folder of class subfolders",
    )


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
    train.add_argument("--epochs", type=int, required=True, help="total number of training epochs")
    train.add_argument("--batch-size", type=int, default=256, help="images per training step (default 256)")
    train.add_argument("--seed", type=int, default=0,
                       help="seed for weights, noise, shuffling and the validation split (default 0); "
                       "the same seed and data give the same weights on CPU")
    train.add_argument("--val-fraction", type=float, default=0.1,
                       help="share of normal training images held out as normal validation data (default 0.1)")
    train.add_argument("--xla", dest="jit_compile", action="store_true",
                       help="compile the train step with XLA (off by default: slower on the CPUs we measured)")
    train.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory for the bundle and logs")
    train.add_argument("--resume", action="store_true",
                       help="continue an interrupted run in RUN_DIR from its last complete epoch")
    train.set_defaults(handler=_train)
    return parser


def _train(args: argparse.Namespace) -> int:
    from anogan.training import train

    bundle = train(
        dataset=args.dataset, normal=args.normal, epochs=args.epochs, out=args.out, data=args.data,
        batch_size=args.batch_size, seed=args.seed, val_fraction=args.val_fraction,
        jit_compile=args.jit_compile, resume=args.resume,
    )
    print(f"model bundle: {bundle.path}")
    print(f"samples:      {bundle.path / 'samples'}")
    print(f"history:      {bundle.path / 'history.csv'}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``anogan`` console script."""
    import anogan  # noqa: F401  (quiets TensorFlow's start-up log before it loads)

    logging.basicConfig(level=logging.WARNING, format="anogan: %(levelname)s: %(message)s")
    args = _build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except AnoganError as exc:
        print(f"anogan: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("anogan: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
