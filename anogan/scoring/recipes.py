"""Recipes: named, complete configurations of a detector, from training to scoring.

A recipe is data: the GAN's training settings (optimiser, weight averages,
batch, schedule, validation share) and the scoring method with its settings.
Every command and :class:`~anogan.Detector` starts from one (default
:data:`DEFAULT_RECIPE`); a single option overrides a single setting, and the
bundle records the recipe it was trained with, its full settings and what
was overridden (``bundle.json``, key ``recipe``), so a bare
``anogan score INPUT --model B`` scores with the bundle's own recipe.

``recommended``
    The configuration measured best on the dev split (docs/research.md,
    "How the defaults are chosen"): the document's DCGAN and ``train_step``
    with Adam 2e-4 / β₁ 0.5 and an exponential moving average (0.995) of G's
    and of D's weights, batch 64, 20 epochs (at least 1,500 steps on small
    sets); scored by AnoGAN latent inversion as a pure search: z is the
    nearest of 16,384 seeded samples (pruned to those some normal training
    image is nearest to) in D's feature space, 0 gradient steps, and the
    score is 0.3·residual + 0.7·feature distance + 0.5·critic, each term
    standardised on normal validation images (residual over the ink, cosine
    feature distance).
``document``
    The seed document's recipe exactly: its DCGAN and ``train_step``,
    ``Adam(1e-4)`` for both networks, batch 256, 50 epochs; scored with the
    AnoGAN paper's settings (λ 0.1, 500 Adam steps on z). The reference.

Example:
    >>> recipe = get_recipe("recommended")
    >>> recipe.training.batch_size, recipe.method
    (64, 'anogan')
    >>> recipe.train_config("mnist-5k", [0], epochs=5).recipe["overrides"]
    {'epochs': 5, 'min_steps': 0}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Optional

from anogan.errors import AnoganError
from anogan.gan.trainer import GAN_BETA_1, GAN_LEARNING_RATE
from anogan.gan.training import TrainConfig
from anogan.scoring.calibration import stored_calibration_of
from anogan.scoring.methods import check_methods
from anogan.scoring.settings import ScoringSettings


@dataclass(frozen=True)
class TrainingSettings:
    """What a recipe fixes of the GAN's training (the rest of :class:`~anogan.gan.training.TrainConfig` is the run's).

    Attributes:
        epochs: training epochs over the normal images.
        min_steps: at least this many optimiser steps: on a small set the
            epochs are raised to reach it (0: the epochs as they are).
        encoder_epochs: f-AnoGAN encoder epochs, for the methods that use one.
    """

    epochs: int
    batch_size: int
    val_fraction: float = 0.1
    generator_ema: float = 0.0
    discriminator_ema: float = 0.0
    learning_rate: float = GAN_LEARNING_RATE
    beta_1: float = GAN_BETA_1
    min_steps: int = 0
    discriminator: str = "document"
    diff_augment: str = ""
    encoder_epochs: int = 30


TRAINING_SETTINGS = tuple(f.name for f in fields(TrainingSettings))
# The command-line flag and help of every training setting a recipe fixes, declared once: the CLI builds its
# options from this table and the benchmark writes its reproducible commands with it.
TRAINING_FLAGS = {
    "epochs": ("--epochs", "training epochs"),
    "min_steps": ("--min-steps", "raise the epochs on a small set to reach this many optimiser steps (0: never)"),
    "batch_size": ("--batch-size", "images per training step"),
    "val_fraction": ("--val-fraction", "share of normal training images held out as normal validation images, "
                     "for the thresholds"),
    "generator_ema": ("--generator-ema", "keep an exponential moving average of G's weights with this momentum "
                      "and save it as the bundle's generator (0: off)"),
    "discriminator_ema": ("--discriminator-ema", "the same for D, whose features the scorers use"),
    "learning_rate": ("--gan-lr", f"Adam's learning rate for G and D (the document's: {GAN_LEARNING_RATE:g})"),
    "beta_1": ("--gan-beta1", f"Adam's beta_1 for G and D (the document's: {GAN_BETA_1:g})"),
    "discriminator": ("--discriminator", "D's architecture: document, wide (first layer 128 filters), spectral "
                      "(spectral normalisation) or wide-spectral"),
    "diff_augment": ("--diff-augment", "DiffAugment policy for every image D sees in training: translation, "
                     "cutout or both, comma-separated (empty: none)"),
    "encoder_epochs": ("--encoder-epochs", "f-AnoGAN encoder epochs, for the methods that use one"),
}


def training_flags(values: dict) -> list[str]:
    """Command-line words that set the training settings ``values`` (name -> value; ``None`` left out)."""
    words = []
    for name, value in values.items():
        if value is not None:
            words += [TRAINING_FLAGS[name][0], str(value)]
    return words


@dataclass(frozen=True)
class Recipe:
    """A name plus everything a bundle needs: training settings, a scoring method and its settings."""

    name: str
    summary: str
    training: TrainingSettings
    method: str
    scoring: ScoringSettings = field(default_factory=ScoringSettings)

    def __post_init__(self):
        check_methods(self.method)

    def settings_for(self, method: str) -> ScoringSettings:
        """What ``method`` scores with under this recipe before any option: the recipe's own settings for its
        method, the defaults for another."""
        return self.scoring if method == self.method else ScoringSettings()

    def to_dict(self) -> dict:
        return {"name": self.name, "training": asdict(self.training), "method": self.method,
                "scoring": self.scoring.relevant_to(self.method)}

    def train_config(self, dataset: str, normal, data: Optional[str] = None, seed: int = 0,
                     jit_compile: bool = False, precision: str = "float32", split_seed: Optional[int] = None,
                     **overrides) -> TrainConfig:
        """The :class:`~anogan.gan.training.TrainConfig` of this recipe, with ``overrides`` of its training settings.

        ``overrides`` set to ``None`` are ignored (an option not given); the
        others are recorded in the config's ``recipe`` entry when they differ
        from the recipe. Epochs named are trained as they are: the recipe's
        step floor (``min_steps``) then does not apply unless named too.
        """
        given = {k: v for k, v in overrides.items() if v is not None}
        if "epochs" in given:  # epochs named are the epochs trained: the step floor only raises the recipe's own
            given.setdefault("min_steps", 0)
        unknown = sorted(set(given) - set(TRAINING_SETTINGS))
        if unknown:
            raise AnoganError(f"unknown training setting(s) {', '.join(unknown)}; a recipe fixes "
                              f"{', '.join(TRAINING_SETTINGS)}")
        training = replace(self.training, **given)
        changed = {k: v for k, v in given.items() if getattr(self.training, k) != v}
        values = asdict(training)
        values.pop("encoder_epochs")
        return TrainConfig(dataset=dataset, normal=normal, data=data, seed=seed, split_seed=split_seed,
                           jit_compile=jit_compile,
                           precision=precision, recipe={**self.to_dict(), "overrides": changed}, **values)


RECIPES = {
    recipe.name: recipe for recipe in (
        Recipe(
            name="recommended",
            summary="the best measured on the dev split: EMA 0.995 of G and D, Adam 2e-4 / beta_1 0.5, batch 64, "
                    "20 epochs; latent-bank search (16,384 pruned, 0 steps), standardised ink residual, cosine "
                    "features and critic (lambda 0.7, critic 0.5)",
            training=TrainingSettings(epochs=20, batch_size=64, generator_ema=0.995, discriminator_ema=0.995,
                                      learning_rate=2e-4, beta_1=0.5, min_steps=1500, encoder_epochs=10),
            method="anogan",
            scoring=ScoringSettings(lam=0.7, steps=0, latent_bank=16384, prune_bank=True, residual="ink",
                                    feature_distance="cosine", standardize=True, critic_weight=0.5),
        ),
        Recipe(
            name="document",
            summary="the seed document's DCGAN recipe exactly (Adam 1e-4, batch 256, 50 epochs), scored with the "
                    "AnoGAN paper's settings (lambda 0.1, 500 steps on z)",
            training=TrainingSettings(epochs=50, batch_size=256),
            method="anogan",
        ),
    )
}
DEFAULT_RECIPE = "recommended"
# The main job's step floor in place of its recipe's (1,500 for the recommended one): on the embedded mnist-5k
# (300 training images) 750 steps are 150 epochs, the longest schedule that keeps the job within 10 minutes on
# a slow 2-core machine, chosen on the dev split (docs/main-job-schedule.md). Larger sets reach their
# recipe's epochs first and are not affected.
MAIN_JOB_MIN_STEPS = 750
# What bundles trained before recipes existed are scored with when no method is named, as they were then.
LEGACY_METHOD = "encoder"


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``, or an error listing the recipes."""
    if name not in RECIPES:
        raise AnoganError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    return RECIPES[name]


def bundle_recipe(bundle) -> Optional[Recipe]:
    """The recipe a bundle was trained with, as recorded in it (``None`` for bundles from before recipes)."""
    record = bundle.metadata.get("recipe")
    if not record:
        return None
    try:
        return Recipe(name=record["name"], summary="as recorded in the bundle",
                      training=TrainingSettings(**record["training"]), method=record["method"],
                      scoring=ScoringSettings.from_dict(record["scoring"]))
    except (KeyError, TypeError) as exc:
        raise AnoganError(f"{bundle.path}: damaged recipe in bundle.json ({exc})") from None


@dataclass(frozen=True)
class ScoringChoice:
    """The method and settings a command scores a bundle with, and where they came from (for the user)."""

    method: str
    settings: ScoringSettings
    source: str


def scoring_choice(bundle, method: Optional[str] = None, recipe: Optional[str] = None) -> ScoringChoice:
    """How to score ``bundle`` when the user names at most a method and a recipe.

    The recipe is the one named, else the bundle's own; a bundle from before
    recipes scores with :data:`LEGACY_METHOD` unless a method is named. The
    settings are, in this order: the bundle's current calibration of the
    method (what its results files were scored with), unless a recipe is
    named; the recipe's, when the method is the recipe's; the defaults.
    Options named on the command line go on top of these.
    """
    chosen = get_recipe(recipe) if recipe else bundle_recipe(bundle)
    if chosen is not None:
        method = method or chosen.method
    elif method is None:
        method = _legacy_method(bundle)
    check_methods(method)
    calibration = None if recipe else stored_calibration_of(bundle, method)
    if calibration is not None:
        return ScoringChoice(method, ScoringSettings.from_dict(calibration.settings),
                             "the bundle's calibration of " + method)
    if chosen is not None and method == chosen.method:
        return ScoringChoice(method, chosen.settings_for(method), f"recipe {chosen.name}")
    return ScoringChoice(method, ScoringSettings(), "the defaults of " + method)


def _legacy_method(bundle) -> str:
    """The method a bundle from before recipes scores with when none is named: the encoder, as then, or the one
    method it was calibrated for."""
    calibrated = sorted(bundle.metadata.get("calibration", {}))
    if bundle.encoder is not None:
        return LEGACY_METHOD
    if len(calibrated) == 1 or "anogan" in calibrated:
        return "anogan" if "anogan" in calibrated else calibrated[0]
    raise AnoganError(f"{bundle.path} was trained before recipes and has no encoder: name a --method, or "
                      f"--recipe {DEFAULT_RECIPE} to score it with that recipe's method and settings")
