import json

import pytest

from anogan.errors import AnoganError
from anogan.experiments.benchmark import (BenchmarkConfig, Candidate, candidates_for, parse_classes, result_path,
                                         run_benchmark)
from anogan.experiments.reports import load_results, summarize
from anogan.scoring.recipes import get_recipe
from anogan.scoring.settings import ScoringSettings

ENCODER = [Candidate("encoder", "encoder")]
TINY = dict(epochs=1, encoder_epochs=1, batch_size=32)


def _run_folder(runs):
    [folder] = [p for p in runs.iterdir() if (p / "bundle.json").is_file()]
    return folder


def test_parse_classes():
    assert parse_classes("0-2,7") == [0, 1, 2, 7]
    assert parse_classes("3") == [3]
    with pytest.raises(AnoganError):
        parse_classes("a-b")


@pytest.mark.slow
def test_benchmark_writes_one_file_per_result_and_resumes(tmp_path, shapes_npz, monkeypatch):
    config = BenchmarkConfig(dataset="mnist", data=shapes_npz, training=TINY)
    out = tmp_path / "results"
    records = run_benchmark(config, [0, 1], [0], ENCODER, out, progress=False)
    assert [(r["normal_class"], r["method"]) for r in records] == [(0, "encoder"), (1, "encoder")]
    record = json.loads((out / "encoder" / "class1_seed0.json").read_text())
    assert record["n_test"] == 60 and 0 <= record["auroc"] <= 1
    assert "--classes 1 --seeds 0" in record["command"]

    import anogan.gan.training

    monkeypatch.setattr(anogan.gan.training, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    assert len(run_benchmark(config, [0, 1], [0], ENCODER, out, progress=False)) == 2

    table = summarize(out)
    text = table.read_text()
    assert "| 0 |" in text and "| 1 |" in text and "mean" in text
    assert (out / "summary.csv").is_file() and (out / "summary.png").is_file()
    assert len(load_results(out)) == 2
    index = (out / "index.csv").read_text().splitlines()
    assert index[0].startswith("candidate,recipe,method") and index[1].startswith("encoder,") and index[1].endswith(",2")

    dev = BenchmarkConfig(dataset="mnist", data=shapes_npz, training=TINY, split="dev")
    with pytest.raises(AnoganError, match="holds mnist test results"):
        run_benchmark(dev, [0], [0], ENCODER, out, progress=False)


def test_the_mean_row_averages_whole_seeds_only(tmp_path):
    base = {"dataset": "mnist", "split": "test", "method": "encoder", "candidate": "encoder", "auprc": 0.5,
            "f1_max": 0.5, "n_test": 10, "train_seconds": 1.0, "encoder_seconds": 1.0,
            "score_images_per_second": 10.0, "epochs": 1}
    aurocs = {(0, 0): 0.9, (1, 0): 0.7, (0, 1): 0.5}  # seed 1 has not reached class 1 yet
    records = [{**base, "normal_class": c, "seed": s, "auroc": a} for (c, s), a in aurocs.items()]
    text = summarize(tmp_path, records).read_text()
    assert "| **mean** | 80.0 (2 classes, 1 seed(s); 1 partial seed(s) left out) |" in text
    assert "| 0 | 70.0 ± 28.3 (n=2) |" in text


@pytest.mark.slow
def test_only_a_stepping_anogan_search_scores_the_test_subset(tmp_path, shapes_npz):
    config = BenchmarkConfig(dataset="mnist", data=shapes_npz, training=TINY, anogan_limit=10)
    candidates = [Candidate("anogan-steps", "anogan", ScoringSettings(steps=2)),
                  Candidate("anogan0-bank", "anogan", ScoringSettings(steps=0, latent_bank=64))]
    records = {r["candidate"]: r for r in run_benchmark(config, [0], [0], candidates, tmp_path, progress=False)}
    assert records["anogan-steps"]["n_test"] == 10 and records["anogan-steps"]["anogan_limit"] == 10
    assert records["anogan0-bank"]["n_test"] == 60 and records["anogan0-bank"]["anogan_limit"] is None
    assert "--latent-bank 64" in records["anogan0-bank"]["command"]


@pytest.mark.slow
def test_the_training_settings_are_used_recorded_and_replayed_by_the_command(tmp_path, shapes_npz):
    import shlex

    from anogan.cli import build_parser

    config = BenchmarkConfig(dataset="mnist", data=shapes_npz, recipe="document", precision="mixed_bfloat16",
                             training=dict(TINY, learning_rate=2e-4, beta_1=0.5))
    [record] = run_benchmark(config, [0], [0], [Candidate("feature-knn", "feature-knn")], tmp_path / "results",
                             progress=False)
    bundle = json.loads((_run_folder(tmp_path / "results" / "runs") / "bundle.json").read_text())
    assert record["precision"] == bundle["training"]["precision"] == "mixed_bfloat16"
    assert record["learning_rate"] == bundle["training"]["learning_rate"] == 2e-4
    assert record["beta_1"] == bundle["training"]["beta_1"] == 0.5
    assert record["recipe"] == bundle["recipe"]["name"] == "document"
    assert record["training_replaced"] == dict(TINY, learning_rate=2e-4, beta_1=0.5)
    replayed = build_parser().parse_args(shlex.split(record["command"])[1:])
    assert replayed.precision == "mixed_bfloat16" and replayed.train_epochs == 1 and replayed.recipe == "document"
    assert (replayed.train_learning_rate, replayed.train_beta_1) == (2e-4, 0.5)


@pytest.mark.slow
def test_results_are_named_by_recipe_and_carry_the_operating_point(tmp_path, shapes_npz):
    config = BenchmarkConfig(dataset="mnist", data=shapes_npz)
    assert [c.name for c in candidates_for(config, ["anogan", "feature-knn"])] == ["recommended",
                                                                                 "recommended-feature-knn"]
    [custom] = candidates_for(config, None, {"lam": 0.9})
    assert custom.name.startswith("recommended-custom-") and custom.settings.lam == 0.9
    assert custom.settings.latent_bank == 16384  # the recipe's, where nothing replaced it
    assert len(custom.name) <= 40
    tiny = BenchmarkConfig(dataset="mnist", data=shapes_npz, training=TINY)
    [record] = run_benchmark(tiny, [0], [0], [Candidate("feature-knn", "feature-knn")], tmp_path, progress=False)
    for key in ("tpr_at_1pct_fpr", "tpr_at_5pct_fpr", "recall_at_threshold"):
        assert 0 <= record[key] <= 1
    assert record["tpr_at_1pct_fpr"] <= record["tpr_at_5pct_fpr"]
    summarize(tmp_path)
    assert "TPR at 1 % FPR" in (tmp_path / "candidates.md").read_text()


def test_a_finished_result_of_another_configuration_under_the_same_name_is_refused_not_resumed(tmp_path):
    from dataclasses import asdict

    config = BenchmarkConfig(dataset="mnist", data=None)
    [candidate] = candidates_for(config)
    recipe_training = asdict(get_recipe(config.recipe).training)
    done = {"dataset": "mnist", "split": "test", "auroc": 0.9, **recipe_training,
            "settings": candidate.settings.relevant_to(candidate.method)}
    path = result_path(tmp_path, 0, 0, candidate.name)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(done))
    assert run_benchmark(config, [0], [0], [candidate], tmp_path, progress=False) == [done]  # nothing to train
    other = "spectral" if recipe_training["discriminator"] != "spectral" else "wide"
    path.write_text(json.dumps({**done, "discriminator": other, "settings": {**done["settings"], "lam": 0.25}}))
    with pytest.raises(AnoganError, match=f"another configuration of 'recommended': discriminator '{other}'.*lam 0.25"):
        run_benchmark(config, [0], [0], [candidate], tmp_path, progress=False)
    assert json.loads(path.read_text())["discriminator"] == other  # left as it was


def _rerun_module():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("rerun", Path(__file__).parents[1] / "benchmarks" / "rerun.py")
    rerun = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rerun)
    return rerun


def test_rerun_names_the_recorded_training_settings_a_changed_recipe_no_longer_has():
    from dataclasses import asdict

    pinned_training = _rerun_module().pinned_training
    words = ["anogan", "benchmark", "--recipe", "recommended", "--epochs", "3"]
    now = asdict(get_recipe("recommended").training)
    other = "wide" if now["discriminator"] != "wide" else "spectral"
    assert pinned_training(now, words) == []
    recorded = {**now, "discriminator": other, "epochs": 99, "generator_ema": 0.5}
    assert pinned_training(recorded, words) == ["--generator-ema", "0.5", "--discriminator", other]
    # a record written before a setting existed trained the setting's default
    old = {k: v for k, v in now.items() if k not in ("discriminator", "diff_augment")}
    assert pinned_training(old, words) == ([] if now["discriminator"] == "document" else ["--discriminator", "document"])
    assert pinned_training(recorded, ["anogan", "benchmark", "--recipe", "no-such"]) == []


@pytest.mark.slow
def test_rerun_script_retrains_from_the_recorded_command_and_logs_the_comparison(tmp_path, shapes_npz, monkeypatch):
    import csv

    rerun = _rerun_module()
    config = BenchmarkConfig(dataset="mnist", data=shapes_npz, training=TINY)
    run_benchmark(config, [0], [0], [Candidate("feature-knn", "feature-knn")], tmp_path / "results",
                  progress=False)
    monkeypatch.setattr(rerun, "LOG", tmp_path / "reruns.csv")
    result = tmp_path / "results" / "feature-knn" / "class0_seed0.json"
    assert rerun.main([str(result), "--out", str(tmp_path / "again")]) == 0
    assert (_run_folder(tmp_path / "again" / "runs") / "bundle.json").is_file()
    [row] = list(csv.DictReader(open(tmp_path / "reruns.csv")))
    assert row["within_tolerance"] == "True" and float(row["difference_points"]) == 0.0


@pytest.mark.slow
def test_dev_split_benchmark_shares_one_inversion_and_matches_the_scorer(tmp_path, shapes_npz):
    import numpy as np

    from anogan.data.datasets import load_dataset
    from anogan.data.protocol import dev_split
    from anogan.experiments.evaluation import ranking_metrics
    from anogan.gan.bundle import load_bundle
    from anogan.scoring.scorer import Scorer

    config = BenchmarkConfig(dataset="mnist", data=shapes_npz, training=TINY, split="dev", dev_anomalies=40)
    standardized = ScoringSettings(hybrid_steps=3, batch_size=16, residual="ink", feature_distance="cosine",
                                   standardize=True, lam=0.5, critic_weight=0.5)
    candidates = [Candidate("hybrid-paper", "hybrid", ScoringSettings(hybrid_steps=3, batch_size=16)),
                  Candidate("hybrid-ink-cosine", "hybrid", standardized),
                  Candidate("encoder", "encoder")]
    out = tmp_path / "dev"
    records = {r["candidate"]: r for r in run_benchmark(config, [0], [0], candidates, out, progress=False)}
    assert set(records) == {"hybrid-paper", "hybrid-ink-cosine", "encoder"}
    record = records["hybrid-ink-cosine"]
    assert record["split"] == "dev" and record["n_anomaly"] == 40 and record["n_normal"] + record["n_fit"] == 6
    assert "--split dev" in record["command"] and "--standardize" in record["command"]
    assert "--candidate hybrid-ink-cosine" in record["command"] and "--feature-distance cosine" in record["command"]
    assert "--critic-weight 0.5" in record["command"]

    # The shared inversion gives what the product's scorer gives, fitted on the same normal images.
    bundle = load_bundle(_run_folder(out / "runs"))
    dev = dev_split(load_dataset("mnist", shapes_npz), [0], 0.1, 0, 40)
    scorer = Scorer(bundle, "hybrid", standardized, fit_images=dev.x_fit)
    scores = scorer.score(np.concatenate([dev.x_normal, dev.x_anomaly])).score
    labels = np.r_[np.zeros(len(dev.x_normal)), np.ones(len(dev.x_anomaly))]
    assert ranking_metrics(labels, scores)["auroc"] == pytest.approx(record["auroc"], abs=1e-6)
    assert "dev split" in summarize(out).read_text()


def test_candidate_names_must_be_unique(tmp_path, shapes_npz):
    config = BenchmarkConfig(dataset="mnist", data=shapes_npz, training=TINY)
    with pytest.raises(AnoganError, match="unique"):
        run_benchmark(config, [0], [0], ENCODER * 2, tmp_path, progress=False)


@pytest.mark.slow
def test_seeds_that_share_a_split_seed_are_measured_on_one_dev_split_and_score_as_an_ensemble(tmp_path, shapes_npz):
    import importlib.util
    from pathlib import Path

    config = BenchmarkConfig(dataset="mnist", data=shapes_npz, training=TINY, split="dev", dev_anomalies=40,
                             split_seed=0)
    records = run_benchmark(config, [0], [0, 1], [Candidate("recommended", "anogan",
                                                            candidates_for(config)[0].settings)],
                            tmp_path / "dev", runs_dir=tmp_path / "runs", progress=False)
    by_seed = {r["seed"]: r for r in records}
    assert by_seed[1]["split_seed"] == 0 and "--split-seed 0" in by_seed[1]["command"]
    assert by_seed[0]["split_seed"] is None and "--split-seed" not in by_seed[0]["command"]  # its own split
    assert (tmp_path / "dev" / "recommended" / "class0_seed1_split0.json").is_file()
    assert by_seed[0]["n_normal"] == by_seed[1]["n_normal"]

    spec = importlib.util.spec_from_file_location("ensemble_dev",
                                                  Path(__file__).parents[1] / "benchmarks" / "ensemble_dev.py")
    ensemble_dev = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ensemble_dev)
    out = tmp_path / "ensemble.json"
    assert ensemble_dev.main(["--dataset", "mnist", "--data", shapes_npz, "--classes", "0", "--seeds", "0,1",
                              "--split-seed", "0", "--dev-anomalies", "40", "--runs-dir", str(tmp_path / "runs"),
                              "--out", str(out)]) == 0
    row = json.loads(out.read_text())["classes"]["0"]
    # each member, scored again by the script, is what the benchmark recorded for it
    assert [m["auroc"] for m in row["members"]] == pytest.approx([by_seed[0]["auroc"], by_seed[1]["auroc"]])
    assert 0.5 < row["ensemble"]["auroc"] <= 1
    assert "ensemble" in out.with_suffix(".md").read_text()
