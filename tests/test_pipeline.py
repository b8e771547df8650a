import json

import numpy as np

from anogan.experiments.pipeline import prepare_scorer, run_job
from anogan.scoring.recipes import scoring_choice
from anogan.scoring.settings import ScoringSettings


def test_main_job_writes_results_and_metrics_and_resumes(tmp_path, shapes_npz, monkeypatch):
    options = dict(dataset="mnist", data=shapes_npz, normal=["0"], epochs=2, batch_size=32, encoder_epochs=1,
                   methods=("encoder", "hybrid"), scoring_overrides={"hybrid_steps": 3}, progress=False)
    job = run_job(tmp_path / "job", **options)
    for method in ("encoder", "hybrid"):
        assert job.results[method].is_file()
        metrics = json.loads((tmp_path / "job" / f"evaluation_{method}" / "metrics.json").read_text())
        assert metrics["n_labelled"] == 60 and 0 <= metrics["auroc"] <= 1
    metadata = json.loads((tmp_path / "job" / "bundle.json").read_text())
    assert set(metadata["calibration"]) == {"encoder", "hybrid"}
    assert metadata["calibration"]["hybrid"]["settings"]["hybrid_steps"] == 3
    assert metadata["recipe"]["name"] == "recommended"
    assert metadata["recipe"]["overrides"] == {"epochs": 2, "min_steps": 0, "batch_size": 32, "encoder_epochs": 1,
                                               "val_fraction": 0.25}  # dicts compare without order
    assert metadata["training"]["learning_rate"] == 2e-4  # the recipe's, where nothing replaced it

    import anogan.experiments.pipeline

    def no_training(*args, **kwargs):
        raise AssertionError("a finished encoder must not be trained again")

    monkeypatch.setattr(anogan.experiments.pipeline, "train_encoder", no_training)
    again = run_job(tmp_path / "job", **options)
    assert again.metrics["encoder"]["auroc"] == job.metrics["encoder"]["auroc"]


def test_open_bundle_gives_an_older_bundle_its_reference_images(tmp_path, trained_run):
    import shutil

    from anogan.experiments.pipeline import prepare_scorer
    from anogan.gan.bundle import load_bundle, open_bundle

    path = tmp_path / "old"
    shutil.copytree(trained_run.path, path)
    metadata = json.loads((path / "bundle.json").read_text())
    del metadata["files"]["reference.npz"]
    (path / "bundle.json").write_text(json.dumps(metadata))
    (path / "reference.npz").unlink()
    scorer, calibration = prepare_scorer(open_bundle(path), "feature-knn", ScoringSettings(), progress=False)
    reloaded = load_bundle(path)
    np.testing.assert_array_equal(reloaded.reference_images(), trained_run.reference_images())
    assert "feature-knn" in reloaded.metadata["calibration"] and calibration.threshold > 0


def test_a_later_scorer_takes_the_settings_of_the_stored_calibration(scoring_bundle_copy, monkeypatch):
    def calibrated_settings(bundle, method):
        return scoring_choice(bundle, method).settings

    assert calibrated_settings(scoring_bundle_copy, "anogan") == ScoringSettings()
    chosen = ScoringSettings(steps=0, latent_bank=64, lam=0.7, residual="ink", feature_distance="cosine",
                             standardize=True, critic_weight=0.5)
    _, calibration = prepare_scorer(scoring_bundle_copy, "anogan", chosen, progress=False)
    settings = calibrated_settings(scoring_bundle_copy, "anogan")
    assert settings == chosen
    assert calibrated_settings(scoring_bundle_copy, "hybrid") == ScoringSettings()  # per method

    import anogan.experiments.pipeline

    def no_calibration(*args, **kwargs):
        raise AssertionError("the stored calibration must be reused")

    monkeypatch.setattr(anogan.experiments.pipeline, "calibrate", no_calibration)
    scorer, again = prepare_scorer(scoring_bundle_copy, "anogan", settings, progress=False)
    assert again.threshold == calibration.threshold and scorer.settings == chosen


def test_a_scorers_heavy_state_is_stored_with_the_bundle_and_taken_by_the_next_process(scoring_bundle_copy,
                                                                                        shapes_dataset):
    from anogan.gan.bundle import load_bundle
    from anogan.scoring.state_store import state_key

    settings = ScoringSettings(steps=0, latent_bank=256, prune_bank=True, residual="ink", feature_distance="cosine",
                               standardize=True, critic_weight=0.5)
    built, _ = prepare_scorer(scoring_bundle_copy, "anogan", settings, progress=False)
    again = load_bundle(scoring_bundle_copy.path)  # as a new process finds it
    key = state_key(again, "anogan", settings)
    assert again.scorer_state(key) is not None
    taken, _ = prepare_scorer(again, "anogan", settings, progress=False)
    assert np.array_equal(taken.state()["bank_latents"], built.state()["bank_latents"])
    assert taken.term_stats == built.term_stats
    images = shapes_dataset.x_test
    np.testing.assert_array_equal(taken.score(images).score, built.score(images).score)
    # another generator is another key: a state never outlives the models it was built from
    again.metadata["files"]["generator.keras"] = "0" * 64
    assert state_key(again, "anogan", settings) != key
