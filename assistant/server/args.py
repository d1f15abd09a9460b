"""The server's command-line arguments, shared by ``policy-qa serve`` / ``ui`` and ``python ui.py``.

Light on purpose (no Gradio import): the CLI builds its parser for every command.
"""

from __future__ import annotations

import argparse

from assistant.settings import Settings


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth / POLICY_QA_AUTH must look like user:pass")
    return user, password


def add_server_arguments(parser: argparse.ArgumentParser, settings: Settings) -> None:
    """``--host --port --auth --no-warmup`` with defaults from settings."""
    parser.add_argument("--host", default=settings.ui_host, help=f"监听地址（默认 {settings.ui_host}）")
    parser.add_argument("--port", type=int, default=settings.ui_port, help=f"端口（默认 {settings.ui_port}）")
    default_auth = settings.auth.get_secret_value() if settings.auth else None
    parser.add_argument("--auth", default=default_auth, help="用户名:密码（或 POLICY_QA_AUTH）；非本机地址必须设置")
    parser.add_argument("--no-warmup", action="store_true", help="不预先加载问答引擎（第一个问题会慢一些）")
