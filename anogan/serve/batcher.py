"""Micro-batching: the images of concurrent requests scored together, one scorer call at a time."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional

import numpy as np

from anogan.scoring.batch import ScoreBatch


class MicroBatcher:
    """Collects the images of concurrent requests into one call of ``score``, on one dedicated thread.

    The first request waiting opens a batch; requests arriving within
    ``max_wait`` seconds join it until it holds ``max_batch`` images; the
    batch is scored in one call and each request gets its own part back, in
    its own order. TensorFlow runs on one thread of its own, so the event
    loop keeps answering (health checks, other requests' uploads) while a
    batch is scored. With ``enabled=False`` every request is its own call
    (the baseline the load benchmark compares with).

    Example:
        >>> batcher = MicroBatcher(scorer.score, max_batch=64)  # doctest: +SKIP
        >>> batch = await batcher.score(images)  # doctest: +SKIP
    """

    def __init__(self, score: Callable[[np.ndarray], ScoreBatch], max_batch: int = 64, max_wait: float = 0.005,
                 enabled: bool = True):
        self._score = score
        self.max_batch, self.max_wait, self.enabled = int(max_batch), float(max_wait), enabled
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anogan-scorer")
        self._queue: Optional[asyncio.Queue] = None
        self._worker: Optional[asyncio.Task] = None
        self.calls = 0
        self.images = 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def run(self, function: Callable, *args):
        """``function(*args)`` on the scorer's thread (e.g. building or warming the scorer)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def score(self, images: np.ndarray) -> ScoreBatch:
        """The scores of ``images`` (``uint8``, ``(N, 28, 28)``), batched with other requests' when enabled."""
        if not self.enabled or self._queue is None:
            return await self.run(self._call, images)
        answer = asyncio.get_running_loop().create_future()
        await self._queue.put((images, answer))
        return await answer

    def _call(self, images: np.ndarray) -> ScoreBatch:
        self.calls += 1
        self.images += len(images)
        return self._score(images)

    async def _gather(self) -> list:
        """The requests of the next batch: the first waiting one and those that join it in time."""
        batch = [await self._queue.get()]
        size = len(batch[0][0])
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while size < self.max_batch:
            remaining = deadline - asyncio.get_running_loop().time()
            if self._queue.empty() and remaining <= 0:
                break
            try:
                item = self._queue.get_nowait() if not self._queue.empty() else \
                    await asyncio.wait_for(self._queue.get(), remaining)
            except asyncio.TimeoutError:
                break
            batch.append(item)
            size += len(item[0])
        return [(images, answer) for images, answer in batch if not answer.done()]

    async def _run(self) -> None:
        while True:
            batch = await self._gather()
            if not batch:
                continue
            try:
                result = await self.run(self._call, np.concatenate([images for images, _ in batch]))
            except Exception as exc:  # every request of the batch gets the scorer's error
                for _, answer in batch:
                    if not answer.done():
                        answer.set_exception(exc)
                continue
            start = 0
            for images, answer in batch:
                if not answer.done():
                    answer.set_result(result.part(start, start + len(images)))
                start += len(images)


class BackgroundBatcher:
    """A :class:`MicroBatcher` on an event loop of its own thread, for synchronous callers on many threads.

    The dashboard runs each browser session's script on its own thread;
    each calls :meth:`score` and blocks until its part of a shared batch is
    back, so concurrent sessions share scorer calls as API requests do, and
    the scorer (whose inversion keeps z in one variable) runs on one thread.

    Example:
        >>> batcher = BackgroundBatcher(scorer.score, max_batch=scorer.chunk_size)  # doctest: +SKIP
        >>> batch = batcher.score(images)  # doctest: +SKIP
    """

    def __init__(self, score: Callable[[np.ndarray], ScoreBatch], max_batch: int = 64, max_wait: float = 0.02):
        import threading

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="anogan-batcher", daemon=True)
        self._thread.start()
        self.batcher = MicroBatcher(score, max_batch, max_wait)
        self._submit(self.batcher.start())

    def _submit(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def score(self, images: np.ndarray) -> ScoreBatch:
        """The scores of ``images``, batched with those of other threads calling at the same time."""
        return self._submit(self.batcher.score(images))
