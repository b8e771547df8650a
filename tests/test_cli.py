import json

import pytest

from anogan.cli import main


def test_help_explains_the_train_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--dataset", "--data", "--normal", "--epochs", "--batch-size", "--seed", "--out", "--resume", "--xla"):
        assert option in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--dataset", "mnist", "--data", "/absent/mnist.npz", "--normal", "0", "--epochs", "1", "--out", "r"], "data file not found"),
        (["train", "--dataset", "mnist-5k", "--normal", "11", "--epochs", "1", "--out", "r"], "unknown class '11'"),
    ],
)
def test_user_errors_are_one_line_without_traceback(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("anogan: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_train_command_writes_a_bundle(tmp_path, shapes_npz, capsys):
    out = tmp_path / "run"
    argv = ["train", "--dataset", "mnist", "--data", shapes_npz, "--normal", "2", "--epochs", "1",
            "--batch-size", "64", "--out", str(out)]
    assert main(argv) == 0
    assert (out / "bundle.json").is_file()
    assert "model bundle:" in capsys.readouterr().out


def test_run_command_trains_with_the_optimizer_options(tmp_path, shapes_npz, capsys):
    out = tmp_path / "job"
    argv = ["run", "--dataset", "mnist", "--data", shapes_npz, "--normal", "2", "--epochs", "1", "--batch-size", "64",
            "--methods", "feature-knn", "--limit", "20", "--generator-ema", "0.9", "--discriminator-ema", "0.9",
            "--gan-lr", "0.0002", "--gan-beta1", "0.5", "--out", str(out)]
    assert main(argv) == 0
    training = json.loads((out / "bundle.json").read_text())["training"]
    assert (training["generator_ema"], training["discriminator_ema"]) == (0.9, 0.9)
    assert (training["learning_rate"], training["beta_1"]) == (0.0002, 0.5)
    assert "feature-knn:" in capsys.readouterr().out


def test_dashboard_refuses_a_missing_runs_directory(tmp_path, capsys):
    assert main(["dashboard", "--runs-dir", str(tmp_path / "absent")]) == 2
    assert "runs directory not found" in capsys.readouterr().err


def test_every_command_has_help(capsys):
    for command in ("train", "train-encoder", "calibrate", "score", "evaluate", "run", "benchmark", "dashboard"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: anogan " + command in capsys.readouterr().out


def test_calibrate_with_labelled_anomalies_uses_f1_max(tmp_path, scoring_bundle, shapes_dataset, capsys):
    import shutil

    import numpy as np

    model = tmp_path / "model"
    shutil.copytree(scoring_bundle.path, model)
    anomalies = tmp_path / "anomalies.npz"
    np.savez(anomalies, x=shapes_dataset.x_train[shapes_dataset.y_train != 0][:20])
    assert main(["calibrate", "--model", str(model), "--method", "encoder", "--anomalies", str(anomalies)]) == 0
    stored = json.loads((model / "bundle.json").read_text())["calibration"]["encoder"]
    assert stored["rule"] == "f1-max" and stored["n_anomalies"] == 20
    assert "f1-max" in capsys.readouterr().out


def test_help_and_argument_errors_never_load_tensorflow():
    import subprocess
    import sys

    code = ("import sys\nfrom anogan.cli import main\n"
            "for argv in (['--help'], ['score', '--help'], ['score']):\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
            "print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "False"
    assert "oneDNN" not in done.stderr and "I0000" not in done.stderr


def test_score_and_evaluate_defaults_unknown_classes_and_map_names(tmp_path, scoring_bundle_copy, shapes_dataset,
                                                                   capsys):
    from PIL import Image

    from anogan.results.files import read_results

    root = tmp_path / "images"
    for folder, label in (("0", 0), ("1", 1), ("fashion", 2)):
        (root / folder).mkdir(parents=True)
        for i, image in enumerate(shapes_dataset.x_test[shapes_dataset.y_test == label][:2]):
            Image.fromarray(image).save(root / folder / f"part {i}.png")
    results = tmp_path / "scores.csv"
    assert main(["score", str(root), "--model", str(scoring_bundle_copy.path), "--out", str(results),
                 "--maps", str(tmp_path / "maps")]) == 0
    frame = read_results(results)
    assert set(frame["method"]) == {"encoder"}
    assert sorted(p.name for p in (tmp_path / "maps").glob("part_0-*_anomaly_map.png")) == [
        f"part_0-{i:06d}_anomaly_map.png" for i in sorted(frame[frame["path"].str.endswith("part 0.png")]["index"])]

    capsys.readouterr()
    assert main(["evaluate", str(results)]) == 0
    printed = capsys.readouterr().out
    assert (tmp_path / "scores_evaluation" / "metrics.json").is_file()
    assert "2 scored rows have a class the bundle does not know" in printed
    assert main(["evaluate", str(results), "--unknown-as", "anomaly", "--out", str(tmp_path / "all")]) == 0

    metrics = json.loads((tmp_path / "all" / "metrics.json").read_text())
    assert metrics["n_anomaly"] == 4 and metrics["n_unlabelled"] == 0


def test_the_dashboard_ships_inside_the_package():
    from anogan.cli.dashboard import dashboard_app_path

    app = dashboard_app_path()
    assert app.is_file() and (app.parent / "ui.py").is_file()
    assert {p.name for p in (app.parent / "views").glob("*.py")} >= {"score.py", "results.py", "training.py",
                                                                   "about.py"}


def test_score_and_calibrate_keep_the_bundles_calibrated_settings_unless_named(tmp_path, scoring_bundle_copy,
                                                                                shapes_dataset, capsys):
    import numpy as np

    model = str(scoring_bundle_copy.path)
    images = tmp_path / "images.npz"
    np.savez(images, x=shapes_dataset.x_test[:4])

    def stored():
        return json.loads((scoring_bundle_copy.path / "bundle.json").read_text())["calibration"]["hybrid"]

    assert main(["calibrate", "--model", model, "--method", "hybrid", "--hybrid-steps", "2", "--lam", "0.5",
                 "--residual", "ink"]) == 0
    calibrated = stored()
    capsys.readouterr()
    assert main(["score", str(images), "--model", model, "--method", "hybrid", "--out",
                 str(tmp_path / "a.csv")]) == 0
    assert stored() == calibrated
    assert "--lam 0.5 --hybrid-steps 2 --residual ink" in capsys.readouterr().out

    assert main(["calibrate", "--model", model, "--method", "hybrid", "--lam", "0.3",
                 "--false-positive-rate", "0.05"]) == 0
    assert stored()["settings"] == {**calibrated["settings"], "lam": 0.3}

    assert main(["score", str(images), "--model", model, "--method", "hybrid", "--residual", "l1",
                 "--out", str(tmp_path / "b.csv")]) == 0
    assert stored()["settings"]["residual"] == "l1" and stored()["settings"]["hybrid_steps"] == 2


@pytest.mark.slow
def test_a_bare_score_uses_the_bundles_recipe_and_says_so(tmp_path, shapes_npz, shapes_dataset, capsys):
    import numpy as np

    from anogan.results.files import read_results

    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist", "--data", shapes_npz, "--normal", "0", "--epochs", "1",
                 "--batch-size", "64", "--out", str(out)]) == 0
    assert "recipe recommended, replaced: epochs 1, min_steps 0)" in capsys.readouterr().out
    images = tmp_path / "images.npz"
    np.savez(images, x=np.concatenate([shapes_dataset.x_test[:3], np.zeros((1, 28, 28), np.uint8)]))
    assert main(["score", str(images), "--model", str(out), "--out", str(tmp_path / "r.csv")]) == 0
    printed = capsys.readouterr().out
    assert "anogan: scoring with recipe recommended" in printed and "--latent-bank 16384" in printed
    rows = read_results(tmp_path / "r.csv")
    assert set(rows["method"]) == {"anogan"}
    assert rows["is_anomaly"].iloc[3] and rows["reason"].iloc[3].startswith("constant image")
    calibration = json.loads((out / "bundle.json").read_text())["calibration"]["anogan"]
    assert calibration["settings"]["critic_weight"] == 0.5


@pytest.mark.parametrize("argv, message", [
    (["score", "data/samples", "--model", "/absent/bundle", "--out", "r.csv"], "model bundle not found"),
    (["score", "/absent/folder", "--model", ".", "--out", "r.csv"], "input not found"),
    (["run", "--normal", "10", "--out", "never"], "unknown class '10'"),
])
def test_file_and_class_errors_come_before_anything_slow(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "== GAN" not in captured.out


def test_a_missing_bundle_is_refused_before_tensorflow_loads():
    import subprocess
    import sys

    probe = ("import sys; from anogan.cli import main; code = main(['score', 'data/samples', '--model', "
             "'/absent/bundle', '--out', 'r.csv']); print(code, 'tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["2", "False"] and "model bundle not found" in done.stderr


def test_a_folder_without_images_is_an_error_and_writes_nothing(tmp_path, scoring_bundle_copy, capsys):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("not an image")
    out = tmp_path / "r.csv"
    assert main(["score", str(tmp_path / "empty"), "--model", str(scoring_bundle_copy.path), "--out", str(out)]) == 2
    assert "no image files found in" in capsys.readouterr().err and not out.exists()


def test_a_variant_replaces_only_the_settings_its_flags_name():
    from dataclasses import replace

    from anogan.cli.options import variant_settings
    from anogan.errors import AnoganError
    from anogan.scoring.recipes import get_recipe

    base = get_recipe("recommended").scoring
    name, settings = variant_settings(base, "aligned-lam0.5 --residual aligned --lam 0.5")
    assert name == "aligned-lam0.5" and settings == replace(base, residual="aligned", lam=0.5)
    for bad in ("", "--residual aligned", "x --residual nope", "x --no-such-flag 1"):
        with pytest.raises(AnoganError, match="variant"):
            variant_settings(base, bad)
