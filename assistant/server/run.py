"""Running the server: ``policy-qa serve`` (blocking, uvicorn) and ``serving`` (a background thread).

uvicorn's own log set-up is off (``log_config=None``): its records go through the root handlers that
``configure_logging`` set up, with secrets redacted.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import uvicorn

from assistant.server.app import check_bind, create_app
from assistant.server.args import add_server_arguments, parse_auth
from assistant.server.edge import default_allowed_hosts, is_loopback
from assistant.server.logs import configure_logging
from assistant.settings import Settings, get_settings

STARTUP_POLL = 0.02  # seconds between checks that the background server is listening


def parse_args(argv: Sequence[str] | None, settings: Settings) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="policy-qa serve",
        description="政策问答服务：网页界面在 /，OpenAI 兼容接口在 /v1，接口文档在 /docs（默认只在本机开放）。",
    )
    add_server_arguments(parser, settings)
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server(uvicorn.Server):
    """uvicorn that first ends the UI's heartbeat streams (they never end on their own), as ``Blocks.close``
    does, so a shutdown does not wait the graceful timeout out for every open browser tab."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        gradio_app = getattr(self.config.app.state, "gradio_app", None)
        if gradio_app is not None:
            gradio_app.stop_event.set()
        await super().shutdown(sockets=sockets)


def _config(app: Any, settings: Settings, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # records go to the root handlers (redacted)
        access_log=True,
        server_header=False,
        proxy_headers=False,  # the client address is the TCP peer (login throttling counts per address)
        limit_concurrency=settings.max_connections,
        timeout_graceful_shutdown=max(1, int(settings.request_timeout)),
    )


def _start(server: _Server, sock: socket.socket) -> threading.Thread:
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="policy-qa-server", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start (see the log)")
        time.sleep(STARTUP_POLL)
    return thread


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(
    settings: Settings,
    *,
    chat_engine_factory: Callable[..., Any] | None = None,
    documents: Sequence[Any] | None = None,
    engine_source: Any = None,
    auth: tuple[str, str] | None = None,
) -> Iterator[str]:
    """The whole app (UI, API, edge) on a free loopback port for the block (tests, load runs); yields its URL."""
    app = create_app(
        settings, auth=auth, chat_engine_factory=chat_engine_factory, documents=documents, engine_source=engine_source
    )
    sock = _loopback_socket()  # bound here, so no other process can take the port in between
    port = sock.getsockname()[1]
    server = _Server(_config(app, settings, "127.0.0.1", port))
    thread = _start(server, sock)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=settings.request_timeout + 5)
        sock.close()


def launch(demo: Any, host: str = "127.0.0.1", port: int | None = None, auth: tuple[str, str] | None = None) -> int:
    """Serve an already built Blocks with the server's options and edge (blocking); older ``ui_app`` callers."""
    check_bind(host, auth)
    settings = get_settings()
    app = create_app(settings, host=host, auth=auth, demo=demo)
    _Server(_config(app, settings, host, port or settings.ui_port)).run()
    return 0


def _announce(
    server: uvicorn.Server, host: str, port: int, started: float, hosts: list[str], warm: Callable[[], None] | None
) -> None:
    """Once the socket listens: say where, then build the first engine (the first question is not slow)."""
    while not server.started and not server.should_exit:
        time.sleep(STARTUP_POLL * 5)
    if not server.started:
        return
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    shown = f"[{shown}]" if ":" in shown else shown
    print(
        f"政策问答 已就绪：http://{shown}:{port}/ （接口 /v1，文档 /docs；启动用时 {time.perf_counter() - started:.1f} 秒）",
        flush=True,
    )
    if not is_loopback(host):
        print(f"接受的主机名：{', '.join(hosts)}（其他名字请加入 POLICY_QA_ALLOWED_HOSTS）", flush=True)
    if warm is not None:
        warm()


def serve(
    settings: Settings,
    host: str,
    port: int,
    auth: tuple[str, str] | None,
    *,
    warmup: bool = True,
    started: float | None = None,
) -> int:
    """Run the server until Ctrl-C / SIGTERM; the engine warm-up runs in a thread once it listens."""
    from assistant.ui.app import EngineSource, _default_factory

    started = time.perf_counter() if started is None else started
    try:
        source = EngineSource(_default_factory, settings)
        app = create_app(settings, host=host, auth=auth, engine_source=source)
    except Exception as exc:
        print(f"无法启动服务：{exc}", file=sys.stderr)
        return 1
    server = _Server(_config(app, settings, host, port))
    warm = source.prewarm if warmup else None
    hosts = default_allowed_hosts(host, settings.allowed_hosts, socket.gethostname())
    threading.Thread(
        target=_announce, args=(server, host, port, started, hosts, warm), name="engine-warmup", daemon=True
    ).start()
    try:
        server.run()
    except SystemExit:  # uvicorn exits when it cannot bind the port
        print(f"无法启动服务：端口 {port} 无法监听（已被占用或没有权限）。", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0 if server.started else 1


def refuse_open_bind(host: str, auth: tuple[str, str] | None) -> bool:
    """Print why a non-loopback bind without a password is refused; True when refused."""
    if is_loopback(host) or auth is not None:
        return False
    print(
        f"拒绝启动：在非本机地址 {host} 上开放界面必须设置口令。"
        "请加 --auth 用户名:密码，或设置环境变量 POLICY_QA_AUTH。\n"
        f"Refusing to bind {host} without auth: pass --auth user:pass or set POLICY_QA_AUTH.",
        file=sys.stderr,
    )
    return True


def run_from_args(args: argparse.Namespace, settings: Settings, started: float | None = None) -> int:
    """``policy-qa serve`` / ``ui`` once arguments are parsed and logging is set up."""
    try:
        auth = parse_auth(args.auth)
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    if refuse_open_bind(args.host, auth):
        return 2
    return serve(settings, args.host, args.port, auth, warmup=not args.no_warmup, started=started)


def main(
    argv: Sequence[str] | None = None, settings: Settings | None = None, started: float | None = None
) -> int:
    """``python ui.py`` and ``assistant.ui.app.main``: same as ``policy-qa serve``."""
    started = time.perf_counter() if started is None else started
    settings = settings or get_settings()
    args = parse_args(argv, settings)
    configure_logging(settings)
    return run_from_args(args, settings, started)
