"""Options shared by several commands, and the policy that turns them into library settings.

Each option is declared once, from the library's own tables (datasets,
recipes and their training settings, scoring settings), so the help always
states the defaults the library uses.
"""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from typing import Optional

from anogan.data.datasets import DATASETS
from anogan.errors import AnoganError
from anogan.gan.networks import PRECISIONS
from anogan.scoring.methods import METHODS
from anogan.scoring.recipes import DEFAULT_RECIPE, LEGACY_METHOD, RECIPES, TRAINING_FLAGS, get_recipe
from anogan.scoring.settings import SETTING_CHOICES, SETTING_FLAGS, ScoringSettings


def add_data_options(parser: argparse.ArgumentParser) -> None:
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


def add_bundle_options(parser: argparse.ArgumentParser, scoring: bool = False) -> None:
    """``--model`` and, for a scoring command, ``--method`` and ``--recipe`` (default: the bundle's recipe)."""
    parser.add_argument("--model", required=True, metavar="RUN_DIR", help="the model bundle")
    if scoring:
        parser.add_argument("--method", choices=METHODS,
                            help="scoring method (default: the method of the bundle's recipe; bundles trained "
                            f"before recipes: {LEGACY_METHOD})")
        parser.add_argument("--recipe", choices=RECIPES,
                            help="score with this recipe's method and settings instead of the bundle's own")


def add_recipe_options(parser: argparse.ArgumentParser, val_fraction: Optional[float] = None,
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
        shown = f"default {default:g}" if default is not None else \
            f"{DEFAULT_RECIPE}: {_shown(getattr(recommended, name))}"
        if name == "min_steps" and min_steps_note:
            shown = min_steps_note
        group.add_argument(flag, dest=f"train_{name}", type=type(getattr(recommended, name)), default=default,
                           metavar=name.upper(), help=f"{text} ({shown})")


def _shown(value) -> str:
    if isinstance(value, str):
        return value or "none"
    return f"{value:g}"


def training_overrides(args: argparse.Namespace) -> dict:
    """The recipe's training settings named on the command line (``None``: not named)."""
    return {name: getattr(args, f"train_{name}", None) for name in TRAINING_FLAGS}


def add_precision_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="float32 (default, the document's) or mixed_bfloat16: hidden layers in bfloat16 for "
                        "faster training on CPUs with bfloat16 instructions; the bundle is saved in float32")


def add_engine_options(parser: argparse.ArgumentParser, ray_does: str) -> None:
    group = parser.add_argument_group("engine")
    group.add_argument("--engine", choices=("local", "ray"), default="local",
                       help=f"local: this process (default); ray: {ray_does} (pip install \"anogan[ray]\")")
    group.add_argument("--ray-address", metavar="ADDRESS",
                       help="Ray cluster to join: auto (the running one) or host:port (default: start a local Ray)")
    group.add_argument("--workers", type=int, metavar="N",
                       help="Ray scoring actors (default: the cluster's CPUs / --worker-cpus)")
    group.add_argument("--worker-cpus", type=float, default=1.0, metavar="C",
                       help="CPUs per Ray actor or task; TensorFlow uses that many threads there (default 1)")


def engine_of(args: argparse.Namespace):
    """The engine the engine options name (``None``: this process)."""
    if args.engine == "local":
        if args.ray_address or args.workers is not None:
            raise AnoganError("--ray-address and --workers need --engine ray")
        return None
    from anogan.engines.ray_engine import RayEngine

    return RayEngine(address=args.ray_address, workers=args.workers, worker_cpus=args.worker_cpus)


def add_scoring_options(parser: argparse.ArgumentParser, from_bundle: bool = False) -> None:
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


def named_settings(args: argparse.Namespace) -> dict:
    """The scoring settings named on the command line."""
    named = {f.name: getattr(args, f"score_{f.name}") for f in fields(ScoringSettings)}
    return {k: v for k, v in named.items() if v is not None}


def variant_settings(base: ScoringSettings, text: str) -> tuple[str, ScoringSettings]:
    """``NAME FLAGS``: a name and ``base`` with the scoring settings that the flags (``anogan score``'s) name
    replaced, e.g. ``"aligned --residual aligned"``."""
    import shlex

    words = shlex.split(text)
    parser = argparse.ArgumentParser(prog="variant", add_help=False)
    add_scoring_options(parser)
    try:
        if not words or words[0].startswith("-"):
            raise SystemExit(2)
        named = named_settings(parser.parse_args(words[1:]))
    except SystemExit:  # argparse has printed what is wrong with the flags
        raise AnoganError(f"variant {text!r}: NAME and then scoring flags, e.g. 'aligned --residual aligned'") from None
    return words[0], replace(base, **named)


def scoring_choice_of(args: argparse.Namespace, bundle):
    """The method and settings a scoring command uses: the bundle's recipe (or ``--recipe``), then named flags.

    Prints what it chose when anything came from the bundle or a recipe, so
    a bare ``anogan score`` says which recipe it scores with.
    """
    from anogan.scoring.recipes import ScoringChoice, scoring_choice

    choice = scoring_choice(bundle, args.method, args.recipe)
    named = named_settings(args)
    settings = replace(choice.settings, **named)
    flags = " ".join(settings.as_flags())
    print(f"{choice.method}: scoring with {choice.source}" + (", and the settings named here" if named else "")
          + (f" ({flags})" if flags else ""))
    return ScoringChoice(choice.method, settings, choice.source)


def method_list(text: Optional[str]) -> Optional[list[str]]:
    """A comma-separated ``--methods`` value as a list (``None``: not given)."""
    return [m.strip() for m in text.split(",") if m.strip()] if text else None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (the default of everything that listens)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
