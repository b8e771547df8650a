"""Recipes: named configurations, recorded in the bundle, replaced one setting at a time."""

import json

import pytest

from anogan.errors import AnoganError
from anogan.gan.trainer import GAN_BETA_1, GAN_LEARNING_RATE
from anogan.gan.training import train
from anogan.scoring.recipes import DEFAULT_RECIPE, RECIPES, bundle_recipe, get_recipe, scoring_choice
from anogan.scoring.settings import ScoringSettings


def test_the_recipes_are_the_measured_best_and_the_documents_exactly():
    recommended, document = get_recipe("recommended"), get_recipe("document")
    assert DEFAULT_RECIPE == "recommended"
    assert (recommended.training.batch_size, recommended.training.epochs, recommended.training.learning_rate,
            recommended.training.beta_1, recommended.training.generator_ema,
            recommended.training.discriminator_ema) == (64, 20, 2e-4, 0.5, 0.995, 0.995)
    assert recommended.method == "anogan" and recommended.scoring == ScoringSettings(
        lam=0.7, steps=0, latent_bank=16384, prune_bank=True, residual="ink", feature_distance="cosine",
        standardize=True, critic_weight=0.5)
    assert (document.training.batch_size, document.training.learning_rate, document.training.beta_1,
            document.training.generator_ema, document.training.min_steps) == (256, GAN_LEARNING_RATE, GAN_BETA_1, 0, 0)
    assert document.method == "anogan" and document.scoring == ScoringSettings()  # the paper's lambda 0.1, 500 steps
    with pytest.raises(AnoganError, match="unknown recipe 'best'.*recommended, document"):
        get_recipe("best")
    assert set(RECIPES) == {"recommended", "document"}


def test_a_small_set_trains_to_the_recipes_step_floor_unless_epochs_are_named():
    recipe = get_recipe("recommended")
    assert recipe.train_config("mnist-5k", [0]).epochs_for(300) == 300  # 1,500 steps of 5
    assert recipe.train_config("mnist", [0]).epochs_for(5_300) == 20  # a full MNIST digit: the 20 epochs
    named = recipe.train_config("mnist-5k", [0], epochs=3)
    assert named.epochs_for(300) == 3 and named.recipe["overrides"] == {"epochs": 3, "min_steps": 0}
    with pytest.raises(AnoganError, match="unknown training setting"):
        recipe.train_config("mnist", [0], lr=1.0)


def test_a_bundle_records_its_recipe_and_what_a_flag_replaced(tmp_path, shapes_npz):
    config = get_recipe("recommended").train_config("mnist", [0], data=shapes_npz, epochs=1, batch_size=32,
                                                    generator_ema=0.0)
    bundle = train(config, tmp_path / "run", progress=False)
    record = json.loads((tmp_path / "run" / "bundle.json").read_text())["recipe"]
    assert record["name"] == "recommended"
    assert record["overrides"] == {"epochs": 1, "min_steps": 0, "batch_size": 32, "generator_ema": 0.0}
    assert record["training"]["learning_rate"] == 2e-4 and record["scoring"]["latent_bank"] == 16384
    trained = bundle.metadata["training"]
    assert (trained["generator_ema"], trained["discriminator_ema"], trained["batch_size"]) == (0.0, 0.995, 32)
    assert bundle_recipe(bundle).scoring == get_recipe("recommended").scoring
    choice = scoring_choice(bundle)
    assert (choice.method, choice.settings, choice.source) == ("anogan", get_recipe("recommended").scoring,
                                                               "recipe recommended")
    # another method of the same bundle scores with its own defaults; a named recipe replaces the bundle's
    assert scoring_choice(bundle, "feature-knn").settings == ScoringSettings()
    assert scoring_choice(bundle, recipe="document").settings == ScoringSettings()


def test_a_bundle_from_before_recipes_scores_as_before(scoring_bundle_copy):
    assert bundle_recipe(scoring_bundle_copy) is None
    choice = scoring_choice(scoring_bundle_copy)
    assert (choice.method, choice.settings) == ("encoder", ScoringSettings())
