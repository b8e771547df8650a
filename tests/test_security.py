"""The dashboard's exposure: localhost by default, an optional access token, bounded uploads, safe exports."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anogan.cli import main
from anogan.experiments.evaluation import spreadsheet_safe
from anogan.serve.process import free_port

APP = str(Path(__file__).resolve().parents[1] / "dashboard" / "app.py")
TOKEN = "correct horse battery staple"


def _listening_addresses(port: int) -> set[str]:
    """Local addresses in LISTEN state on ``port``, from /proc/net/tcp and tcp6."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in open(table).read().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, local_port = local.split(":")
            if state == "0A" and int(local_port, 16) == port:
                addresses.add(address)
    return addresses


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="reads Linux's socket table")
def test_dashboard_listens_on_localhost_only_and_stops_on_sigterm(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("ANOGAN_DASHBOARD_TOKEN", None)
    process = subprocess.Popen([sys.executable, "-m", "anogan", "dashboard", "--runs-dir", str(tmp_path),
                                "--port", str(port), "--", "--server.headless", "true"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _listening_addresses(port) and time.monotonic() < deadline:
            assert process.poll() is None, "the dashboard exited early"
            time.sleep(0.5)
        assert _listening_addresses(port) == {"0100007F"}  # 127.0.0.1, nothing else
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) is not None
        assert not _listening_addresses(port)
    finally:
        if process.poll() is None:
            process.kill()


def test_network_address_needs_a_token_or_an_explicit_opt_out(tmp_path, capsys, monkeypatch):
    launched = []
    monkeypatch.setattr(os, "execve", lambda path, argv, env: launched.append(argv))
    monkeypatch.delenv("ANOGAN_DASHBOARD_TOKEN", raising=False)
    assert main(["dashboard", "--runs-dir", str(tmp_path), "--host", "0.0.0.0"]) == 2
    assert "ANOGAN_DASHBOARD_TOKEN" in capsys.readouterr().err and not launched

    main(["dashboard", "--runs-dir", str(tmp_path), "--host", "0.0.0.0", "--insecure-no-auth"])
    assert "no access token" in capsys.readouterr().err
    monkeypatch.setenv("ANOGAN_DASHBOARD_TOKEN", TOKEN)
    main(["dashboard", "--runs-dir", str(tmp_path), "--host", "0.0.0.0"])
    assert capsys.readouterr().err == ""
    for argv in launched:
        assert argv[argv.index("--server.address") + 1] == "0.0.0.0"
        assert argv[argv.index("--browser.gatherUsageStats") + 1] == "false"
        assert argv[argv.index("--server.maxUploadSize") + 1] == "64"


def _app(runs_dir, monkeypatch, token):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ANOGAN_RUNS_DIR", str(runs_dir))
    monkeypatch.setenv("ANOGAN_DASHBOARD_TOKEN", token)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


PAGES = {"views/score.py": "Score images", "views/results.py": "Results", "views/training.py": "Training",
         "views/about.py": "About anogan"}


@pytest.mark.slow
def test_with_a_token_no_page_shows_content_until_it_is_given(tmp_path, monkeypatch):
    at = _app(tmp_path, monkeypatch, TOKEN)
    for page in PAGES:
        at.switch_page(page).run()
        assert [t.value for t in at.title] == ["anogan"]
        assert not at.info and not at.selectbox and not at.file_uploader
    at.text_input(key="access_token").input("wrong")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong access token."]
    assert [t.value for t in at.title] == ["anogan"] and not at.info


@pytest.mark.slow
def test_with_the_right_token_every_page_renders(tmp_path, monkeypatch):
    at = _app(tmp_path, monkeypatch, TOKEN)
    at.text_input(key="access_token").input(TOKEN)
    at.button[0].click().run()
    assert not at.exception
    for page, title in PAGES.items():
        at.switch_page(page).run()
        assert not at.exception and at.title[0].value == title


def test_upload_cap_scores_only_the_first_files(runs_dir, monkeypatch, shapes_dataset):
    import io

    from PIL import Image

    import anogan.results.rows

    monkeypatch.setattr(anogan.results.rows, "MAX_UPLOAD_FILES", 2)
    at = _app(runs_dir, monkeypatch, "")
    files = []
    for i in range(3):
        buffer = io.BytesIO()
        Image.fromarray(shapes_dataset.x_test[i]).save(buffer, format="PNG")
        files.append((f"{i}.png", buffer.getvalue(), "image/png"))
    at.file_uploader(key="score_uploads").set_value(files).run()
    assert not at.exception
    assert "only the first 2 are scored" in at.warning[0].value
    assert sum(m.label == "score" for m in at.metric) == 2


def test_score_uploads_refuses_more_than_the_cap(scoring_bundle, monkeypatch):
    import anogan.results.rows
    from anogan.errors import AnoganError

    monkeypatch.setattr(anogan.results.rows, "MAX_UPLOAD_FILES", 1)
    with pytest.raises(AnoganError, match="at most 1"):
        anogan.results.rows.score_uploads(None, None, [("a.png", b""), ("b.png", b"")])


def test_formula_named_upload_is_exported_as_text(scoring_bundle, shapes_dataset):
    import io

    from PIL import Image

    from anogan.results.rows import RESULT_COLUMNS, score_uploads
    from anogan.scoring.calibration import calibrate
    from anogan.scoring.scorer import Scorer

    scorer = Scorer(scoring_bundle, "encoder")
    calibration = calibrate(scorer, save=False)
    buffer = io.BytesIO()
    Image.fromarray(shapes_dataset.x_test[0]).save(buffer, format="PNG")
    name = '=HYPERLINK("http://x","y").png'
    [result] = score_uploads(scorer, calibration, [(name, buffer.getvalue())])
    exported = pd.read_csv(io.StringIO(spreadsheet_safe(pd.DataFrame([result.row], columns=RESULT_COLUMNS))
                                       .to_csv(index=False)), keep_default_na=False)
    assert exported["path"][0] == "'" + name
    assert exported["score"][0] == pytest.approx(result.row["score"])


def test_spreadsheet_safe_leaves_numbers_and_plain_text_alone():
    frame = pd.DataFrame({"text": ["+1", "-x", "@a", "\tb", "\rc", "ok", "a=b"], "number": np.arange(-3, 4)})
    safe = spreadsheet_safe(frame)
    assert safe["text"].tolist() == ["'+1", "'-x", "'@a", "'\tb", "'\rc", "ok", "a=b"]
    assert safe["number"].tolist() == list(range(-3, 4))
    assert frame["text"][0] == "+1"  # the input is not changed


def test_evaluate_per_class_table_neutralises_formula_class_names(tmp_path, scoring_bundle, shapes_dataset):
    from PIL import Image

    from anogan.data.inputs import open_input
    from anogan.engines.scoring_job import score_to_file
    from anogan.experiments.evaluation import evaluate
    from anogan.scoring.calibration import calibrate
    from anogan.scoring.scorer import Scorer

    folder = tmp_path / "images" / "=cmd"
    folder.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(shapes_dataset.x_test[i]).save(folder / f"{i}.png")
    scorer = Scorer(scoring_bundle, "encoder")
    calibration = calibrate(scorer, save=False)
    results = tmp_path / "results.csv"
    score_to_file(open_input(str(tmp_path / "images")), scorer, calibration, results, progress=False)
    evaluate(results, tmp_path / "evaluation")
    table = pd.read_csv(tmp_path / "evaluation" / "per_class.csv")
    assert table["class"].tolist() == ["'=cmd"]
    assert pd.read_csv(results)["class"].tolist() == ["=cmd"] * 3  # the machine-facing file keeps exact values
