"""Start the Policy QA chat UI: ``python ui.py [--host H] [--port P] [--auth user:pass]``."""

from __future__ import annotations

import time

_STARTED = time.perf_counter()

from assistant.ui_app import main  # noqa: E402  (timed from process start)

if __name__ == "__main__":
    raise SystemExit(main(started=_STARTED))
