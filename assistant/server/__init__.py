"""The server process: the Gradio UI at ``/``, the OpenAI-compatible API at ``/v1`` and docs at ``/docs``,
behind one set of edge checks (Host, body size, Origin, login throttling, nothing before login).

- ``create_app(settings, host=..., auth=...)`` -> the FastAPI app (``app``);
- ``serve(settings, host, port, auth)`` runs it with uvicorn (``policy-qa serve``); ``main(argv)`` parses
  the same arguments (``python ui.py``);
- ``serving(settings, ...)`` runs it on a free loopback port in a background thread (tests, load runs);
- ``configure_logging`` sets up logging with secrets redacted (``logs``).

Names load on first use, so ``from assistant.server.logs import ...`` does not import Gradio.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "create_app": "app",
    "check_bind": "app",
    "is_loopback": "edge",
    "serve": "run",
    "serving": "run",
    "main": "run",
    "launch": "run",
    "parse_args": "run",
    "parse_auth": "args",
    "free_port": "run",
    "run_from_args": "run",
    "add_server_arguments": "args",
    "configure_logging": "logs",
    "redact": "logs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
