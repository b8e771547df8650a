"""``anogan train`` and ``anogan train-encoder``."""

from __future__ import annotations

import argparse

from anogan.cli.options import (
    add_bundle_options,
    add_data_options,
    add_precision_option,
    add_recipe_options,
    training_overrides,
)
from anogan.gan.monitor import health_line
from anogan.gan.training import CHECKPOINT_SECONDS


def add_parsers(commands) -> None:
    train = commands.add_parser(
        "train", help="train the DCGAN on normal images and write a model bundle",
        description="Train the DCGAN on the normal classes' training images only (one-class protocol) "
        "and write a model bundle, per-epoch history, sample grids and checkpoints to --out.",
    )
    add_data_options(train)
    train.add_argument("--normal", action="append", required=True, metavar="CLASS",
                       help="a normal class, by name or index; repeat for several (every other class is an anomaly)")
    train.add_argument("--seed", type=int, default=0,
                       help="seed for weights, noise, shuffling and (unless --split-seed) the validation split (default 0); "
                       "the same seed and data give the same weights on CPU")
    train.add_argument("--split-seed", type=int, metavar="SEED",
                       help="seed of the validation split instead of --seed, so that runs of several seeds hold out "
                       "the same normal validation images")
    train.add_argument("--xla", dest="jit_compile", action="store_true",
                       help="compile the train step with XLA (off by default: slower on the CPUs we measured)")
    add_precision_option(train)
    add_recipe_options(train, encoder=False)
    train.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory for the bundle and logs")
    train.add_argument("--resume", action="store_true",
                       help="continue an interrupted run in RUN_DIR from its last checkpoint")
    train.add_argument("--checkpoint-seconds", type=float, default=CHECKPOINT_SECONDS, metavar="SECONDS",
                       help="write a checkpoint at most this often, and after the first and the last epoch "
                       f"(default {CHECKPOINT_SECONDS:g}; 0: every epoch)")
    train.add_argument("--health-every", type=int, default=1, metavar="N",
                       help="measure the generator's Fréchet distance, KID, precision/recall and density/coverage "
                       "on the normal validation images every N epochs (default 1; 0: never, losses are still "
                       "watched)")
    train.add_argument("--stop-on-collapse", action="store_true",
                       help="stop when the generator collapses (measured every epoch), keeping the last healthy "
                       "checkpoint")
    train.set_defaults(handler=train_command)

    encoder = commands.add_parser(
        "train-encoder", help="train the f-AnoGAN encoder of a bundle (G and D frozen)",
        description="Train the f-AnoGAN izi_f encoder E on the bundle's normal training images with the "
        "generator and discriminator frozen: MSE(x, G(E(x))) + kappa * MSE(f(x), f(G(E(x)))). "
        "The encoder is saved into the bundle and the encoder-based methods are calibrated.",
    )
    add_bundle_options(encoder)
    encoder.add_argument("--epochs", type=int, default=30, help="encoder training epochs (default 30)")
    encoder.add_argument("--batch-size", type=int, default=64, help="images per step (default 64)")
    encoder.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    encoder.add_argument("--kappa", type=float, default=1.0, help="weight of the feature term (default 1)")
    encoder.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    encoder.set_defaults(handler=train_encoder_command)


def train_command(args: argparse.Namespace) -> int:
    from anogan.gan.training import HealthOptions, train
    from anogan.scoring.recipes import get_recipe

    config = get_recipe(args.recipe).train_config(args.dataset, args.normal, data=args.data, seed=args.seed,
                                                  split_seed=args.split_seed, jit_compile=args.jit_compile,
                                                  precision=args.precision,
                                                  **training_overrides(args))
    bundle = train(config, args.out, resume=args.resume, checkpoint_seconds=args.checkpoint_seconds,
                   health=HealthOptions(args.health_every, args.stop_on_collapse))
    run = bundle.run_directory()
    replaced = ", ".join(f"{key} {value}" for key, value in config.recipe["overrides"].items())
    print(f"model bundle: {bundle.path} (recipe {args.recipe}" + (f", replaced: {replaced})" if replaced else ")"))
    print(f"samples:      {run.samples}")
    print(f"history:      {run.history} (TensorBoard: tensorboard --logdir {run.tensorboard})")
    print(f"health:       {health_line(bundle.metadata)}")
    return 0


def train_encoder_command(args: argparse.Namespace) -> int:
    from anogan.experiments.pipeline import prepare_scorer
    from anogan.gan.bundle import load_bundle
    from anogan.scoring.encoder_training import train_encoder

    bundle = train_encoder(load_bundle(args.model), epochs=args.epochs, batch_size=args.batch_size,
                           learning_rate=args.learning_rate, kappa=args.kappa, seed=args.seed)
    prepare_scorer(bundle, "encoder")  # the scoring default, whatever kappa trained the encoder
    print(f"encoder saved in {bundle.path / 'encoder.keras'}; history in {bundle.run_directory().encoder_history}")
    return 0
