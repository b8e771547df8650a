"""``anogan serve --engine ray``: the same FastAPI app as a Ray Serve deployment of N replicas.

Each replica is a Ray actor holding one :class:`~anogan.serve.service.ScoringService` (the bundle
loaded and its scorer warmed once per replica) behind the app of :func:`~anogan.serve.app.create_app`,
so answers, limits and the token are those of the local server. Ray Serve's HTTP proxy spreads
requests over the replicas; inside a replica, ``@serve.batch`` collects concurrent requests' images
into one scorer call (:class:`ServeBatcher`), where the local server uses its own
:class:`~anogan.serve.batcher.MicroBatcher`.

When a replica dies, Ray Serve starts another; the requests that were in flight on it fail with a
5xx that a client can retry, and the others are served by the remaining replicas meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from ray import serve

from anogan.scoring.batch import ScoreBatch
from anogan.serve.app import ServeLimits, create_app
from anogan.serve.service import ScoringService

APP_NAME = "anogan"
DEPLOYMENT_NAME = "AnoganScoring"


def _images_in(requests: list) -> int:
    return sum(len(images) for images in requests)


class ServeBatcher:
    """The :class:`~anogan.serve.batcher.MicroBatcher`'s contract, with Ray Serve's ``@serve.batch``
    collecting the requests: up to ``max_batch`` images, waiting at most ``max_wait`` seconds.

    A request holding more than ``max_batch`` images is scored on its own, as the local batcher
    does. The scorer runs on one thread of its own, so the replica's event loop keeps serving.
    """

    def __init__(self, score: Callable[[np.ndarray], ScoreBatch], max_batch: int = 64, max_wait: float = 0.005,
                 enabled: bool = True):
        self._score = score
        self.max_batch, self.enabled = int(max_batch), enabled
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anogan-scorer")
        self._score_requests.set_max_batch_size(self.max_batch)
        self._score_requests.set_batch_wait_timeout_s(float(max_wait))

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def score(self, images: np.ndarray) -> ScoreBatch:
        if not self.enabled or len(images) > self.max_batch:
            return await self._call(images)
        return await self._score_requests(images)

    async def _call(self, images: np.ndarray) -> ScoreBatch:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._score, images)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005, batch_size_fn=_images_in)
    async def _score_requests(self, requests: list[np.ndarray]) -> list[ScoreBatch]:
        result = await self._call(np.concatenate(requests))
        ends = np.cumsum([len(images) for images in requests])
        return [result.part(int(end - len(images)), int(end)) for images, end in zip(requests, ends)]


@dataclass(frozen=True)
class RayServeOptions:
    """Where and how the deployment runs: ``replicas`` actors of ``replica_cpus`` CPUs each, behind
    Ray Serve's HTTP proxy on ``host:port``, on a new local Ray or the cluster at ``address``."""

    replicas: int = 1
    replica_cpus: float = 1.0
    host: str = "127.0.0.1"
    port: int = 8000
    address: Optional[str] = None


def scoring_application(service_kwargs: dict, token: Optional[str], limits: ServeLimits, options: RayServeOptions):
    """The Ray Serve application: ``options.replicas`` replicas of the anogan app over one bundle."""
    threads = max(1, int(round(options.replica_cpus)))

    @serve.deployment(name=DEPLOYMENT_NAME, num_replicas=options.replicas,
                      ray_actor_options={"num_cpus": options.replica_cpus},
                      # enough requests on a replica at once for their images to share batches
                      max_ongoing_requests=4 * limits.max_files, health_check_period_s=2)
    @serve.ingress()
    class AnoganScoring:
        def __init__(self):
            from anogan.engines.ray_engine import limit_tensorflow_threads

            limit_tensorflow_threads(threads)
            self.service = ScoringService(**service_kwargs, batcher_type=ServeBatcher)

        def __serve_build_asgi_app__(self):
            # the app's lifespan (run by Ray Serve before the replica takes requests) warms the scorer
            return create_app(self.service, token, limits)

        def check_health(self):
            if not self.service.ready:
                raise RuntimeError("the scorer is not warm")

    return AnoganScoring.bind()


def local_replica_pids() -> list[int]:
    """Process ids of this machine's replicas of the anogan app (Ray titles them ``ServeReplica:APP:NAME``)."""
    from anogan.engines.ray_engine import local_pids_named

    return local_pids_named(f"ServeReplica:{APP_NAME}:{DEPLOYMENT_NAME}")


def run_on_ray(service_kwargs: dict, token: Optional[str], limits: ServeLimits, options: RayServeOptions) -> None:
    """Deploy the application and return once every replica is warm (Ray and Serve keep running)."""
    from anogan.engines.ray_engine import RayEngine

    RayEngine(address=options.address, progress=False).start()
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    serve.start(http_options={"host": options.host, "port": options.port})
    serve.run(scoring_application(service_kwargs, token, limits, options), name=APP_NAME, route_prefix="/")


def stop_on_ray() -> None:
    """Remove the application, stop Serve, and leave Ray (a local Ray started here stops with it)."""
    import ray

    serve.delete(APP_NAME)  # the replicas stop first (seconds); Serve's shutdown alone can wait 30 s for them
    serve.shutdown()
    ray.shutdown()
