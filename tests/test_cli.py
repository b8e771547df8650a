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
    import json
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
