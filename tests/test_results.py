import csv

import numpy as np
import pytest
from PIL import Image

from anogan.cli import main
from anogan.data.inputs import label_for, open_input
from anogan.engines.scoring_job import score_to_file
from anogan.errors import AnoganError
from anogan.results.files import read_results
from anogan.results.rows import RESULT_COLUMNS
from anogan.scoring.calibration import calibrate
from anogan.scoring.scorer import Scorer


@pytest.fixture(scope="module")
def encoder_scorer(scoring_bundle):
    scorer = Scorer(scoring_bundle, "encoder")
    return scorer, calibrate(scorer, save=False)


@pytest.fixture
def image_folder(tmp_path, shapes_dataset):
    root = tmp_path / "images"
    for label, name in ((0, "0"), (1, "1")):
        (root / name).mkdir(parents=True)
        for i, image in enumerate(shapes_dataset.x_test[shapes_dataset.y_test == label][:3]):
            Image.fromarray(image).save(root / name / f"{i}.png")
    (root / "0" / "empty.png").write_bytes(b"")
    (root / "1" / "notes.png").write_text("this is text")
    (root / "1" / "noise.jpg").write_bytes(np.random.default_rng(0).bytes(500))
    return root


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_folder_scoring_gives_one_row_per_file_and_error_rows(image_folder, encoder_scorer, tmp_path):
    scorer, calibration = encoder_scorer
    out = tmp_path / "results.csv"
    summary = score_to_file(open_input(str(image_folder)), scorer, calibration, out, progress=False)
    rows = _rows(out)
    assert len(rows) == 9 and summary.scored == 6 and summary.errors == 3
    assert list(rows[0]) == list(RESULT_COLUMNS)
    errors = {row["path"].split("/")[-1]: row["error"] for row in rows if row["error"]}
    assert errors["empty.png"].startswith("empty file")
    assert "not a recognised image" in errors["notes.png"] and "not a recognised image" in errors["noise.jpg"]
    good = [row for row in rows if not row["error"]]
    assert {row["class"] for row in good} == {"0", "1"}
    assert all(row["label"] == ("normal" if row["class"] == "0" else "anomaly") for row in good)
    assert all(0 <= float(row["normalized_score"]) <= 1 for row in good)
    assert sorted(int(row["index"]) for row in rows) == list(range(9))


def test_maps_are_written_per_image(image_folder, encoder_scorer, tmp_path):
    scorer, calibration = encoder_scorer
    score_to_file(open_input(str(image_folder)), scorer, calibration, tmp_path / "r.csv",
                  maps_dir=tmp_path / "maps", progress=False)
    good = [row for row in _rows(tmp_path / "r.csv") if not row["error"]]
    for row in good:
        assert not row["anomaly_map"].startswith("/")
        assert Image.open(tmp_path / row["reconstruction"]).size == (28, 28)
        assert Image.open(tmp_path / row["anomaly_map"]).mode == "RGB"


def test_npz_input_and_seeded_subset(tmp_path, shapes_dataset, encoder_scorer):
    path = tmp_path / "x.npz"
    np.savez(path, x=shapes_dataset.x_test, y=shapes_dataset.y_test)
    source = open_input(str(path), limit=10, sample_seed=3)
    assert len(source) == 10
    assert open_input(str(path), limit=10, sample_seed=3).indices().tolist() == source.indices().tolist()
    scorer, calibration = encoder_scorer
    score_to_file(source, scorer, calibration, tmp_path / "r.csv", progress=False)
    rows = _rows(tmp_path / "r.csv")
    assert [int(r["index"]) for r in rows] == source.indices().tolist()
    assert all(r["class"] == str(shapes_dataset.y_test[int(r["index"])]) for r in rows)


def test_dataset_split_input(shapes_npz):
    source = open_input("mnist:test", data=shapes_npz)
    assert len(source) == 60 and source.item(0).class_name == "0"


@pytest.mark.parametrize("spec, message", [("nowhere/at/all", "not a folder"), ("mnist:validation", "not a folder")])
def test_unknown_inputs_are_refused(spec, message):
    with pytest.raises(AnoganError, match=message):
        open_input(spec)


def test_bad_npz_inputs_are_refused_with_the_reason(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.full((2, 28, 28), np.inf))
    with pytest.raises(AnoganError, match="NaN or infinite"):
        open_input(str(path))
    np.savez(path, images=np.zeros((2, 28, 28)))
    with pytest.raises(AnoganError, match="no array 'x'"):
        open_input(str(path))


def test_resume_after_a_crash_gives_exactly_one_row_per_input(tmp_path, shapes_dataset, encoder_scorer):
    scorer, calibration = encoder_scorer
    path = tmp_path / "x.npz"
    np.savez(path, x=shapes_dataset.x_test)
    out = tmp_path / "r.csv"

    class CrashingScorer:
        def __init__(self):
            self.method, self.bundle, self.settings, self.calls = scorer.method, scorer.bundle, scorer.settings, 0

        def score(self, images):
            self.calls += 1
            if self.calls == 3:
                raise KeyboardInterrupt
            return scorer.score(images)

    with pytest.raises(KeyboardInterrupt):
        score_to_file(open_input(str(path)), CrashingScorer(), calibration, out, chunk_size=16, progress=False)
    with open(out, "a") as handle:
        handle.write("33,,0,normal,encoder,0.5")  # a row cut short by the kill
    with pytest.raises(AnoganError, match="--resume"):
        score_to_file(open_input(str(path)), scorer, calibration, out, progress=False)
    summary = score_to_file(open_input(str(path)), scorer, calibration, out, resume=True, chunk_size=16, progress=False)
    assert summary.skipped == 32
    indices = [int(row["index"]) for row in _rows(out)]
    assert sorted(indices) == list(range(60))
    assert read_results(out)["score"].notna().all()


def test_label_for_known_and_generic_class_names(scoring_bundle):
    assert label_for("0", scoring_bundle) == "normal"
    assert label_for("7", scoring_bundle) == "anomaly"
    assert label_for("good", scoring_bundle) == "normal" and label_for("defect", scoring_bundle) == "anomaly"
    assert label_for("giraffe", scoring_bundle) == ""


def test_score_cli_exit_codes_and_named_failures(scoring_bundle_copy, image_folder, tmp_path, capsys):
    model = str(scoring_bundle_copy.path)
    ok = main(["score", str(image_folder), "--model", model, "--method", "encoder", "--out", str(tmp_path / "ok.csv")])
    assert ok == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"")
    (bad / "b.png").write_text("nope")
    capsys.readouterr()
    assert main(["score", str(bad), "--model", model, "--method", "encoder", "--out", str(tmp_path / "bad.csv")]) == 1
    assert len(_rows(tmp_path / "bad.csv")) == 2
    printed = capsys.readouterr()
    assert f"not scored: {bad / 'a.png'}: empty file" in printed.out and "b.png" in printed.out
    assert "no input could be scored" in printed.err
    # resuming a file that already holds scores is a success even when nothing new is scored
    assert main(["score", str(image_folder), "--model", model, "--method", "encoder",
                 "--out", str(tmp_path / "ok.csv"), "--resume"]) == 0


def test_parquet_results_are_typed_resumable_and_evaluate_like_csv(image_folder, encoder_scorer, tmp_path):
    from anogan.experiments.evaluation import evaluate
    from anogan.results.files import find_results

    scorer, calibration = encoder_scorer
    source = open_input(str(image_folder))
    score_to_file(source, scorer, calibration, tmp_path / "r.csv", progress=False)
    score_to_file(source, scorer, calibration, tmp_path / "r.parquet", progress=False)
    frame = read_results(tmp_path / "r.parquet")
    assert list(frame.columns) == list(RESULT_COLUMNS) and frame["score"].isna().sum() == 3
    assert frame["is_anomaly"].dropna().isin([True, False]).all()
    with pytest.raises(AnoganError, match="--resume"):
        score_to_file(source, scorer, calibration, tmp_path / "r.parquet", progress=False)
    summary = score_to_file(source, scorer, calibration, tmp_path / "r.parquet", resume=True, progress=False)
    assert summary.skipped == 9 and read_results(tmp_path / "r.parquet").equals(frame)
    assert evaluate(tmp_path / "r.parquet", tmp_path / "ep")["auroc"] == evaluate(tmp_path / "r.csv", tmp_path / "ec")["auroc"]
    assert find_results(tmp_path) == [tmp_path / "r.csv", tmp_path / "r.parquet"]
