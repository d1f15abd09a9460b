"""A time budget for UI handlers: the work runs on a small worker pool, the handler stops waiting at the deadline.

A Python thread cannot be killed, so a late worker is abandoned, not stopped: a streamed job checks a cancel
flag between items and ends at its next item; a plain call runs to its end in the background. The pool is
bounded, so abandoned work cannot pile up threads; a job still queued when its deadline passes never starts.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from assistant.core.deadline import Deadline

T = TypeVar("T")

TIMEOUT_MESSAGE = "处理超时，请缩短输入后重试。"
_ITEM, _DONE, _ERROR = "item", "done", "error"


class DeadlineExceeded(TimeoutError):
    """The request took longer than its budget (``Settings.request_timeout``)."""

    def __init__(self, message: str = TIMEOUT_MESSAGE) -> None:
        super().__init__(message)


class Runner:
    """Runs UI work on a bounded pool under a deadline; one per app."""

    def __init__(self, budget: float, workers: int) -> None:
        self.budget = budget
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pqa-ui")

    def deadline(self) -> Deadline:
        return Deadline(self.budget)

    def stream(self, make: Callable[[], Iterable[T]], deadline: Deadline) -> Iterator[T]:
        """Items of ``make()`` as the worker produces them; raises ``DeadlineExceeded`` when time is up.

        Exceptions of the work are re-raised here with their own type. Closing this iterator (client gone,
        deadline) tells the worker to stop at its next item.
        """
        items: queue.Queue[tuple[str, object]] = queue.Queue()
        cancelled = threading.Event()

        def pump() -> None:
            try:
                for item in make():
                    if cancelled.is_set():
                        return
                    items.put((_ITEM, item))
                items.put((_DONE, None))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting handler
                items.put((_ERROR, exc))

        future = self._pool.submit(pump)
        try:
            while True:
                remaining = deadline.remaining()
                if remaining <= 0:
                    raise DeadlineExceeded
                try:
                    kind, value = items.get(timeout=remaining)
                except queue.Empty:
                    raise DeadlineExceeded from None
                if kind == _DONE:
                    return
                if kind == _ERROR:
                    raise value  # type: ignore[misc]
                yield value  # type: ignore[misc]
        finally:
            cancelled.set()
            future.cancel()  # a job still waiting for a thread never starts

    def call(self, fn: Callable[[], T], deadline: Deadline) -> T:
        """``fn()`` on the pool; raises ``DeadlineExceeded`` when it is not done in time."""
        results = list(self.stream(lambda: [fn()], deadline))
        return results[0]  # type: ignore[return-value]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
