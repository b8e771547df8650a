"""The Ray engine gives the rows and result files of the local engine, and survives a killed worker."""

import json
import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

ray = pytest.importorskip("ray")

from anogan.cli import main  # noqa: E402
from anogan.data.inputs import open_input  # noqa: E402
from anogan.engines.ray_engine import RayEngine, local_scoring_actor_pids  # noqa: E402
from anogan.engines.scoring_job import score_to_file  # noqa: E402
from anogan.experiments.benchmark import BenchmarkConfig, Candidate, run_benchmark  # noqa: E402
from anogan.results.files import read_results
from anogan.scoring.calibration import calibrate  # noqa: E402
from anogan.scoring.scorer import Scorer  # noqa: E402


def assert_same_rows(local: pd.DataFrame, on_ray: pd.DataFrame) -> None:
    """The same rows and columns; floats equal up to float32 rounding, because an actor's TensorFlow runs on
    fewer threads than the local one, which changes the last digits on some CPUs (not on others)."""
    assert list(on_ray.columns) == list(local.columns) and len(on_ray) == len(local)
    assert (on_ray.dtypes == local.dtypes).all()
    for column in local.columns:
        if pd.api.types.is_float_dtype(local[column]):
            np.testing.assert_allclose(on_ray[column], local[column], rtol=1e-5, atol=1e-7, err_msg=column)
        else:
            assert on_ray[column].equals(local[column]), column


@pytest.fixture
def folder_with_bad_files(tmp_path, shapes_dataset):
    root = tmp_path / "images"
    for label in (0, 1, 2):
        (root / str(label)).mkdir(parents=True)
        for i, image in enumerate(shapes_dataset.x_test[shapes_dataset.y_test == label][:8]):
            Image.fromarray(image).save(root / str(label) / f"{i}.png")
    (root / "0" / "empty.png").write_bytes(b"")
    (root / "1" / "notes.png").write_text("not an image")
    (root / "2" / "cut.png").write_bytes((root / "2" / "0.png").read_bytes()[:60])
    return root


@pytest.mark.slow
def test_cli_ray_scoring_of_a_folder_with_bad_files_equals_local(local_ray, scoring_bundle_copy,
                                                                  folder_with_bad_files, tmp_path):
    common = ["score", str(folder_with_bad_files), "--model", str(scoring_bundle_copy.path), "--method", "encoder"]
    assert main([*common, "--out", str(tmp_path / "local" / "r.csv"), "--maps", str(tmp_path / "local" / "maps")]) == 0
    assert main([*common, "--engine", "ray", "--workers", "2", "--out", str(tmp_path / "ray" / "r.csv"),
                 "--maps", str(tmp_path / "ray" / "maps")]) == 0
    local, on_ray = read_results(tmp_path / "local" / "r.csv"), read_results(tmp_path / "ray" / "r.csv")
    assert len(on_ray) == 27 and (on_ray["error"] != "").sum() == 3
    assert_same_rows(local, on_ray)  # maps too, relative to the file
    assert all((tmp_path / "ray" / name).is_file() for name in on_ray["anomaly_map"] if name)
    assert list(on_ray["index"]) == list(range(27))  # input order


@pytest.mark.slow
def test_parquet_results_hold_the_same_rows_on_both_engines(local_ray, scoring_bundle_copy, folder_with_bad_files,
                                                            tmp_path):
    scorer = Scorer(scoring_bundle_copy, "encoder")
    calibration = calibrate(scorer, save=False)
    source = open_input(str(folder_with_bad_files))
    score_to_file(source, scorer, calibration, tmp_path / "local.parquet", progress=False)
    score_to_file(source, scorer, calibration, tmp_path / "ray.parquet", progress=False,
                  engine=RayEngine(workers=1, progress=False), chunk_size=5)
    local, on_ray = read_results(tmp_path / "local.parquet"), read_results(tmp_path / "ray.parquet")
    assert str(local["score"].dtype) == "float64" and str(local["is_anomaly"].dtype) == "boolean"
    assert_same_rows(local, on_ray)
    assert local["score"].isna().sum() == 3 and not (tmp_path / "ray.parquet.partial.csv").exists()


@pytest.mark.slow
def test_ray_scoring_resumes_a_partial_file_with_one_row_per_input(local_ray, scoring_bundle_copy,
                                                                   folder_with_bad_files, tmp_path):
    scorer = Scorer(scoring_bundle_copy, "encoder")
    calibration = calibrate(scorer, save=False)
    source = open_input(str(folder_with_bad_files))
    score_to_file(source, scorer, calibration, tmp_path / "local.csv", progress=False)
    lines = (tmp_path / "local.csv").read_text().splitlines(keepends=True)
    (tmp_path / "ray.csv").write_text("".join(lines[:11]) + lines[11][:20])  # ten rows and a cut one
    summary = score_to_file(source, scorer, calibration, tmp_path / "ray.csv", resume=True, progress=False,
                            engine=RayEngine(workers=2, progress=False))
    assert summary.skipped == 10 and summary.scored + summary.errors == 17
    assert (tmp_path / "ray.csv").read_text().splitlines()[:11] == "".join(lines[:11]).splitlines()  # kept as written
    assert_same_rows(read_results(tmp_path / "local.csv"), read_results(tmp_path / "ray.csv"))


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_every_input_gets_exactly_one_row(local_ray, scoring_bundle_copy,
                                                                         shapes_dataset, tmp_path, fast_settings):
    images = np.concatenate([shapes_dataset.x_test] * 3)  # 180 images, 45 chunks of 4
    np.savez(tmp_path / "x.npz", x=images)
    scorer = Scorer(scoring_bundle_copy, "hybrid", fast_settings)
    calibration = calibrate(scorer, save=False)
    source = open_input(str(tmp_path / "x.npz"))
    out = tmp_path / "ray.csv"
    job = threading.Thread(target=score_to_file, args=(source, scorer, calibration, out),
                           kwargs=dict(progress=False, chunk_size=4, engine=RayEngine(workers=2, progress=False)))
    job.start()
    rows_at_kill = None
    deadline = time.monotonic() + 300
    while job.is_alive() and time.monotonic() < deadline:
        rows = len(out.read_text().splitlines()) - 1 if out.exists() else 0
        pids = local_scoring_actor_pids()
        if rows >= 8 and pids:
            os.kill(pids[0], signal.SIGKILL)
            rows_at_kill = rows
            break
        time.sleep(0.05)
    job.join(timeout=600)
    assert rows_at_kill is not None and rows_at_kill < len(images), "the job ended before a worker could be killed"
    frame = read_results(out)
    assert sorted(frame["index"]) == list(range(len(images)))
    assert frame["score"].notna().all()
    local = scorer.score(images).score
    np.testing.assert_allclose(frame.sort_values("index")["score"], local, rtol=1e-5)


VOLATILE = {"train_seconds", "encoder_seconds", "score_images_per_second", "produced_at"}


@pytest.mark.slow
def test_benchmark_grid_on_ray_gives_the_local_result_files(local_ray, tmp_path, shapes_npz):
    config = BenchmarkConfig(dataset="mnist", data=shapes_npz, training=dict(epochs=1, encoder_epochs=1, batch_size=32))
    candidates = [Candidate("encoder", "encoder"), Candidate("feature-knn", "feature-knn")]
    run_benchmark(config, [0, 1], [0], candidates, tmp_path / "local", progress=False)
    # TensorFlow's CPU results depend on its thread count: two threads per task, as the local run has here
    run_benchmark(config, [0, 1], [0], candidates, tmp_path / "ray", progress=False,
                  engine=RayEngine(worker_cpus=2, progress=False))
    def result_files(out):
        return sorted(str(p.relative_to(out)) for p in out.glob("*/class*_seed*.json"))

    local_files = result_files(tmp_path / "local")
    assert local_files == result_files(tmp_path / "ray") and len(local_files) == 4
    for name in local_files:
        local = json.loads((tmp_path / "local" / name).read_text())
        on_ray = json.loads((tmp_path / "ray" / name).read_text())
        for record in (local, on_ray):
            record["command"] = record["command"].replace(str(tmp_path / "local"), "OUT").replace(
                str(tmp_path / "ray"), "OUT")
        assert {k: v for k, v in on_ray.items() if k not in VOLATILE} == \
            {k: v for k, v in local.items() if k not in VOLATILE}


def test_an_unreachable_cluster_is_a_clear_error_and_leaves_no_file(scoring_bundle_copy, folder_with_bad_files,
                                                                     tmp_path, capsys):
    out = tmp_path / "never.csv"
    code = main(["score", str(folder_with_bad_files), "--model", str(scoring_bundle_copy.path), "--engine", "ray",
                 "--ray-address", "127.0.0.1:1", "--out", str(out)])
    assert code == 2 and "no Ray cluster answers at 127.0.0.1:1" in capsys.readouterr().err
    assert not out.exists()


def test_ray_options_need_the_ray_engine(scoring_bundle_copy, tmp_path, capsys):
    code = main(["score", str(tmp_path), "--model", str(scoring_bundle_copy.path), "--workers", "2",
                 "--out", str(tmp_path / "r.csv")])
    assert code == 2 and "--engine ray" in capsys.readouterr().err
