"""A request's time budget (``Settings.request_timeout``), shared by the UI's and the API's worker pools."""

from __future__ import annotations

import time


class Deadline:
    """Seconds left for one request, from a monotonic start."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()
