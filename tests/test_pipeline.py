import json

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
