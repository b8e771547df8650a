import json

import numpy as np

from anogan.pipeline import run_job
from anogan.scoring import ScoringSettings


def test_main_job_writes_results_and_metrics_and_resumes(tmp_path, shapes_npz, monkeypatch):
    options = dict(dataset="mnist", data=shapes_npz, normal=["0"], epochs=2, batch_size=32, encoder_epochs=1,
                   methods=("encoder", "hybrid"), settings=ScoringSettings(hybrid_steps=3), progress=False)
    job = run_job(tmp_path / "job", **options)
    for method in ("encoder", "hybrid"):
        assert job.results[method].is_file()
        metrics = json.loads((tmp_path / "job" / f"evaluation_{method}" / "metrics.json").read_text())
        assert metrics["n_labelled"] == 60 and 0 <= metrics["auroc"] <= 1
    calibration = json.loads((tmp_path / "job" / "bundle.json").read_text())["calibration"]
    assert set(calibration) == {"encoder", "hybrid"}

    import anogan.pipeline

    def no_training(*args, **kwargs):
        raise AssertionError("a finished encoder must not be trained again")

    monkeypatch.setattr(anogan.pipeline, "train_encoder", no_training)
    again = run_job(tmp_path / "job", **options)
    assert again.metrics["encoder"]["auroc"] == job.metrics["encoder"]["auroc"]


def test_open_bundle_gives_an_older_bundle_its_reference_images(tmp_path, trained_run):
    import shutil

    from anogan.artifacts import load_bundle
    from anogan.pipeline import open_bundle, prepare_scorer

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
