"""The HTTP API: the answers of anogan score, micro-batched, guarded, and on a real server."""

import asyncio
import base64
import io
import socket
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from anogan.cli import main  # noqa: E402
from anogan.experiments.pipeline import prepare_scorer  # noqa: E402
from anogan.results.rows import score_uploads  # noqa: E402
from anogan.scoring.batch import ScoreBatch  # noqa: E402
from anogan.serve.app import ServeLimits, create_app  # noqa: E402
from anogan.serve.batcher import BackgroundBatcher, MicroBatcher  # noqa: E402
from anogan.serve.process import ServerProcess  # noqa: E402
from anogan.serve.service import ScoringService  # noqa: E402


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def uploads(shapes_dataset):
    """Three readable PNGs (a disc, a bar, a cross) and a file that is not an image, in that order."""
    images = [shapes_dataset.x_test[shapes_dataset.y_test == label][0] for label in (0, 1, 2)]
    return [(f"{i}.png", _png(image)) for i, image in enumerate(images)] + [("notes.png", b"not an image")]


def _client(bundle, token=None, limits=ServeLimits(), method="feature-knn"):
    return TestClient(create_app(ScoringService(str(bundle.path), method=method), token, limits))


def _expected(bundle, files, method="feature-knn"):
    scorer, calibration = prepare_scorer(bundle, method, progress=False)
    return [s.row for s in score_uploads(scorer, calibration, files)]


def test_multipart_answers_are_the_rows_of_anogan_score_in_input_order(scoring_bundle_copy, uploads):
    with _client(scoring_bundle_copy) as client:
        answer = client.post("/v1/score", files=[("files", (name, data, "image/png")) for name, data in uploads])
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["name"] for r in results] == [name for name, _ in uploads]
    assert results[3]["error"] and results[3]["score"] is None
    expected = _expected(scoring_bundle_copy, uploads)
    for got, row in zip(results[:3], expected[:3]):
        assert got["error"] == "" and got["is_anomaly"] == row["is_anomaly"] and got["reason"] == row["reason"]
        np.testing.assert_allclose([got["score"], got["normalized_score"], got["threshold"]],
                                   [row["score"], row["normalized_score"], row["threshold"]], rtol=1e-6)
    assert results[0]["score"] < min(results[1]["score"], results[2]["score"])  # the disc is the normal class


def test_json_base64_images_score_like_multipart_and_maps_are_pngs(scoring_bundle_copy, uploads):
    body = {"images": [base64.b64encode(data).decode() for _, data in uploads[:2]], "names": ["a", "b"]}
    with _client(scoring_bundle_copy) as client:
        as_json = client.post("/v1/score?maps=true", json=body).json()["results"]
        as_form = client.post("/v1/score", files=[("files", uploads[0]), ("files", uploads[1])]).json()["results"]
    assert [r["name"] for r in as_json] == ["a", "b"]
    assert [r["score"] for r in as_json] == [r["score"] for r in as_form]
    for key in ("reconstruction_png", "anomaly_map_png"):
        image = Image.open(io.BytesIO(base64.b64decode(as_json[0][key])))
        assert image.size == (28, 28)


def test_health_readiness_and_the_model_description(scoring_bundle_copy):
    with _client(scoring_bundle_copy) as client:
        assert client.get("/healthz").json() == {"status": "alive"}
        assert client.get("/readyz").status_code == 200
        model = client.get("/v1/model").json()
        assert client.get("/docs").status_code == 200
    assert model["method"] == "feature-knn" and model["normal_classes"] == ["0"]
    # 6 normal validation images: the promise is 1/7, and the description says why
    assert model["settings"] == {"neighbours": 5} and model["false_positive_rate"] == pytest.approx(1 / 7)
    assert "99" in model["threshold_note"]
    assert set(model["files_sha256"]) >= {"generator.keras", "discriminator.keras"}
    assert {"anogan", "tensorflow"} <= set(model["versions"])


def test_a_token_guards_every_endpoint_but_liveness(scoring_bundle_copy, uploads):
    with _client(scoring_bundle_copy, token="s3cret") as client:
        assert client.get("/healthz").status_code == 200
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            assert client.get("/v1/model", headers=headers).status_code == 401
            assert client.post("/v1/score", files=[("files", uploads[0])], headers=headers).status_code == 401
        good = client.post("/v1/score", files=[("files", uploads[0])], headers={"Authorization": "Bearer s3cret"})
    assert good.status_code == 200 and good.json()["results"][0]["error"] == ""


def test_limits_and_bad_requests_get_their_status(scoring_bundle_copy, uploads, png_claiming_size):
    limits = ServeLimits(max_body_bytes=20_000, max_files=3)
    with _client(scoring_bundle_copy, limits=limits) as client:
        assert client.post("/v1/score", content=b"x" * 30_000,
                           headers={"content-type": "application/json"}).status_code == 413
        assert client.post("/v1/score", files=[("files", uploads[0])] * 4).status_code == 413
        assert client.post("/v1/score", files=[("files", uploads[3])]).status_code == 422
        assert client.post("/v1/score", json={"pictures": []}).status_code == 422
        assert client.post("/v1/score", content=b"abc", headers={"content-type": "text/plain"}).status_code == 415
        bomb = client.post("/v1/score", files=[("files", ("bomb.png", png_claiming_size(50_000, 50_000))),
                                               ("files", uploads[0])])
        assert client.get("/healthz").status_code == 200  # still serving
    assert bomb.status_code == 200
    refused, scored = bomb.json()["results"]
    assert "pixels" in refused["error"] and scored["error"] == ""


def test_concurrent_requests_share_one_scorer_call_and_get_their_own_part():
    calls = []

    def score(images):
        calls.append(len(images))
        values = images.reshape(len(images), -1)[:, 0].astype(np.float32)
        maps = np.zeros((len(images), 28, 28), np.float32)
        return ScoreBatch(values, values, values, maps, maps, np.zeros((len(images), 2), np.float32))

    async def scenario(enabled):
        batcher = MicroBatcher(score, max_batch=64, max_wait=0.05, enabled=enabled)
        await batcher.start()
        requests = [np.full((n, 28, 28), n, np.uint8) for n in (1, 2, 3, 4, 5)]
        answers = await asyncio.gather(*(batcher.score(r) for r in requests))
        await batcher.stop()
        return [a.score.tolist() for a in answers]

    expected = [[float(n)] * n for n in (1, 2, 3, 4, 5)]
    assert asyncio.run(scenario(True)) == expected and calls == [15]
    calls.clear()
    assert asyncio.run(scenario(False)) == expected and sorted(calls) == [1, 2, 3, 4, 5]


def test_threads_scoring_through_a_background_batcher_share_calls_and_get_their_own_part():
    from concurrent.futures import ThreadPoolExecutor

    calls = []

    def score(images):
        calls.append(len(images))
        time.sleep(0.05)  # a scorer call takes a while, so the next threads' images queue up behind it
        values = images.reshape(len(images), -1)[:, 0].astype(np.float32)
        maps = np.zeros((len(images), 28, 28), np.float32)
        return ScoreBatch(values, values, values, maps, maps, np.zeros((len(images), 2), np.float32))

    batcher = BackgroundBatcher(score, max_batch=64, max_wait=0.02)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda n: batcher.score(np.full((n, 28, 28), n, np.uint8)).score.tolist(),
                                range(1, 9)))
    assert answers == [[float(n)] * n for n in range(1, 9)]
    assert sum(calls) == 36 and len(calls) < 8


def test_listening_beyond_this_machine_needs_a_token_or_an_explicit_choice(scoring_bundle_copy, capsys, monkeypatch):
    monkeypatch.delenv("ANOGAN_SERVE_TOKEN", raising=False)
    assert main(["serve", "--model", str(scoring_bundle_copy.path), "--host", "0.0.0.0"]) == 2
    assert "ANOGAN_SERVE_TOKEN" in capsys.readouterr().err


@pytest.mark.slow
def test_a_real_server_on_loopback_scores_like_the_library_and_stops_on_sigterm(scoring_bundle_copy, uploads):
    import httpx

    with ServerProcess(["--model", str(scoring_bundle_copy.path), "--method", "feature-knn"], 120) as server:
        answer = httpx.post(f"{server.base_url}/v1/score", files=[("files", u) for u in uploads], timeout=30).json()
        with socket.create_connection(("127.0.0.1", server.port)) as raw:  # a body without a length is refused
            raw.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            assert b" 411 " in raw.recv(1024)
    assert server.exit_code == 0
    expected = _expected(scoring_bundle_copy, uploads)
    assert [r["score"] for r in answer["results"][:3]] == pytest.approx([row["score"] for row in expected[:3]],
                                                                        rel=1e-6)
    assert answer["results"][3]["error"]


@pytest.mark.slow
def test_a_slow_loris_and_a_10000_file_request_are_refused_while_others_are_served(scoring_bundle_copy, uploads):
    import httpx

    args = ["--model", str(scoring_bundle_copy.path), "--method", "feature-knn", "--request-timeout", "3"]
    with ServerProcess(args, 120) as server:
        slow = socket.create_connection(("127.0.0.1", server.port))
        # headers promise 10 kB, then the body trickles in and stalls
        slow.sendall(b"POST /v1/score HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                     b"Content-Length: 10000\r\n\r\n--b\r\n")
        many = [("files", (f"{i}.png", b"x")) for i in range(10_000)]
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            flooded = client.post("/v1/score", files=many)
            served = [client.post("/v1/score", files=[("files", uploads[0])]) for _ in range(3)]
            slow.settimeout(30)
            answer = slow.recv(1024)
        slow.close()
    assert flooded.status_code == 413
    assert all(r.status_code == 200 and r.json()["results"][0]["error"] == "" for r in served)
    assert b" 408 " in answer
    assert server.exit_code == 0


def _replica_pids() -> set[int]:
    from anogan.serve.ray_serve import local_replica_pids

    return set(local_replica_pids())


@pytest.mark.slow
def test_ray_serve_answers_like_local_and_a_killed_replica_is_replaced(scoring_bundle_copy, uploads):
    """Two replicas on a local Ray: the answers of anogan score; SIGKILL one while clients keep posting,
    and only requests in flight fail, with a 5xx that succeeds when retried; Ray starts a new replica."""
    import concurrent.futures
    import os
    import signal

    import httpx

    pytest.importorskip("ray.serve")
    args = ["--model", str(scoring_bundle_copy.path), "--method", "feature-knn", "--engine", "ray", "--replicas", "2"]
    files = [("files", u) for u in uploads]
    with ServerProcess(args, 300) as server:
        first = httpx.post(f"{server.base_url}/v1/score", files=files, timeout=60)
        replicas = _replica_pids()
        assert len(replicas) == 2

        def post_until_answered() -> tuple[dict, list[int]]:
            failures = []
            with httpx.Client(base_url=server.base_url, timeout=60) as client:
                while True:
                    try:
                        answer = client.post("/v1/score", files=files)
                    except httpx.TransportError:
                        failures.append(0)
                        continue
                    if answer.status_code == 200:
                        return answer.json(), failures
                    failures.append(answer.status_code)

        with concurrent.futures.ThreadPoolExecutor(4) as clients:
            posted = [clients.submit(post_until_answered) for _ in range(8)]
            time.sleep(0.5)
            os.kill(sorted(replicas)[0], signal.SIGKILL)
            posted += [clients.submit(post_until_answered) for _ in range(32)]
            answers = [future.result(timeout=300) for future in posted]
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(_replica_pids() - replicas) < 1:
            time.sleep(1)
        replaced = _replica_pids()
    assert server.exit_code == 0
    assert first.status_code == 200
    expected = _expected(scoring_bundle_copy, uploads)
    for answer, _ in [(first.json(), []), *answers]:
        assert [r["score"] for r in answer["results"][:3]] == pytest.approx([row["score"] for row in expected[:3]],
                                                                            rel=1e-6)
        assert answer["results"][3]["error"]
    failures = [status for _, statuses in answers for status in statuses]
    assert all(status >= 500 or status == 0 for status in failures), failures
    assert len(failures) <= 8  # at most the requests in flight on the killed replica, a few clients' worth
    assert len(replaced - replicas) == 1 and len(replaced) == 2
