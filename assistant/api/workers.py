"""A bounded pool answering API requests: ``api_workers`` threads, at most ``api_queue_size`` waiting.

Admission is decided at once: a request that finds every worker busy and the queue full is refused with
503 (never parked). Each request has a deadline (``request_timeout``); at the deadline the handler answers
504 and stops waiting. A Python thread cannot be killed, so a late job is abandoned, not stopped: a queued
one never starts, a streamed one ends at its next item, a plain call finishes in the background while
still counting against the pool's capacity.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from assistant.api.errors import busy, timed_out
from assistant.core.deadline import Deadline

T = TypeVar("T")

_ITEM, _DONE, _ERROR = "item", "done", "error"


class AnswerPool:
    """Threads for the engine's blocking work, with an admission limit and deadlines."""

    def __init__(self, workers: int, queue_size: int) -> None:
        self.workers = workers
        self.capacity = workers + queue_size
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pqa-api")
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Requests admitted and not finished (answering or waiting)."""
        return self._pending

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        with self._lock:
            if self._pending >= self.capacity:
                raise busy()
            self._pending += 1
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(self._release)
        return future

    def _release(self, _future: Future | None = None) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, fn: Callable[..., T], *args: Any, deadline: Deadline) -> T:
        """``fn(*args)`` on a worker; its exceptions are re-raised here. 503 when full, 504 at the deadline."""
        future = self._submit(fn, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout=max(deadline.remaining(), 0.0))
        except TimeoutError:
            future.cancel()  # starts never if still queued
            raise timed_out(deadline.seconds) from None

    def stream(self, make: Callable[[], Iterable[T]], deadline: Deadline) -> AsyncIterator[T]:
        """Items of ``make()`` (called on a worker) as they come. Admission is checked here, at once."""
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        cancelled = threading.Event()

        def put(kind: str, value: Any) -> None:
            try:
                loop.call_soon_threadsafe(items.put_nowait, (kind, value))
            except RuntimeError:  # the event loop is closed: nobody is listening any more
                cancelled.set()

        def pump() -> None:
            try:
                iterator = iter(make())
                try:
                    for item in iterator:
                        if cancelled.is_set():
                            return
                        put(_ITEM, item)
                finally:
                    close = getattr(iterator, "close", None)
                    if close is not None:
                        close()
                put(_DONE, None)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting handler
                put(_ERROR, exc)

        future = self._submit(pump)
        return self._consume(items, future, cancelled, deadline)

    @staticmethod
    async def _consume(
        items: asyncio.Queue[tuple[str, Any]], future: Future, cancelled: threading.Event, deadline: Deadline
    ) -> AsyncIterator[Any]:
        try:
            while True:
                try:
                    kind, value = await asyncio.wait_for(items.get(), timeout=max(deadline.remaining(), 0.0))
                except TimeoutError:
                    raise timed_out(deadline.seconds) from None
                if kind == _DONE:
                    return
                if kind == _ERROR:
                    raise value
                yield value
        finally:  # deadline, error, or the client went away: the worker stops at its next item
            cancelled.set()
            future.cancel()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
