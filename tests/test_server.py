"""The server process and its edge (issue #16 rows 3, 9, 10, 12): the real app on loopback, real HTTP.

``policy-qa ui`` runs in-process through ``cli.main`` (``serve`` in a real process: test_cli_smoke.py); the edge
checks (login throttling, nothing before login, Host, Origin, body size) run against ``serving`` with the
fake chat engine; log redaction runs the real ``openai`` client against the loopback stub.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from openai_server import FakeOpenAIServer
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from ui_fakes import DOCUMENTS, fake_factory, fake_filters  # noqa: F401

from assistant import cli
from assistant.server import create_app, free_port, serving
from assistant.server.edge import OriginCheck, default_allowed_hosts, split_host
from assistant.server.logs import RedactingFilter, configure_logging, redact
from assistant.server.ui_guard import LoginLimiter
from assistant.settings import Settings

AUTH = ("alice", "s3cret")
DOC_IDS = [d.doc_id for d in DOCUMENTS]  # wz-xsg, hz-xsg, evil
PLACES = ["温州市", "杭州市"]
API_PRESENT = (Path(__file__).resolve().parent.parent / "assistant" / "api" / "__init__.py").exists()


def _settings(**overrides: object) -> Settings:
    return Settings(answerer="extractive", **overrides)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``configure_logging`` changes the root logger and its handlers: put them back for later tests."""
    root = logging.getLogger()
    level, handlers = root.level, {h: (h.level, list(h.filters)) for h in root.handlers}
    yield
    root.setLevel(level)
    for handler, (handler_level, filters) in handlers.items():
        handler.setLevel(handler_level)
        handler.filters[:] = filters


@pytest.fixture(scope="module")
def locked_url(fake_filters: None) -> Iterator[str]:  # noqa: F811
    """The app with a UI password (no login attempts against it, so the throttle stays clear)."""
    with serving(_settings(), chat_engine_factory=fake_factory, documents=DOCUMENTS, auth=AUTH) as url:
        yield url.rstrip("/")


@pytest.fixture(scope="module")
def open_url(fake_filters: None) -> Iterator[str]:  # noqa: F811
    with serving(_settings(), chat_engine_factory=fake_factory, documents=DOCUMENTS) as url:
        yield url.rstrip("/")


# -- row 3: `policy-qa serve` / `ui` as documented -----------------------------------------------------


def _wait_for(url: str, ended: Callable[[], str | None], deadline: float) -> httpx.Response:
    """GET ``url`` once the server listens; fails when ``ended()`` reports that the server stopped."""
    while time.monotonic() < deadline:
        if (why := ended()) is not None:
            pytest.fail(why)
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within the deadline")


def _check_served_app(port: int) -> None:
    """What ``policy-qa serve --auth`` serves: the login page, nothing before login, /v1 and /docs."""
    assert httpx.get(f"http://127.0.0.1:{port}/config", timeout=10).status_code == 401
    if API_PRESENT:
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10)
        assert models.status_code == 200 and models.json()["object"] == "list"
    assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=10).status_code == 200


@pytest.mark.usefixtures("restore_logging")
def test_policy_qa_ui_is_serve_in_process(
    corpus_index: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``policy-qa ui`` (the alias) through ``cli.main`` in this process: the same handler and options as
    ``serve``, and the real server answers until it is told to stop."""
    from assistant.server import run

    parser = cli.build_parser(corpus_index)
    options = ["--port", "1", "--auth", "a:b", "--no-warmup"]
    as_ui, as_serve = parser.parse_args(["ui", *options]), parser.parse_args(["serve", *options])
    assert as_ui.func is as_serve.func and vars(as_ui) | {"command": "serve"} == vars(as_serve)

    servers: list[run._Server] = []

    class Recorded(run._Server):  # the real server, remembered so the test can stop it
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            servers.append(self)

    monkeypatch.setattr(run, "_Server", Recorded)
    port, codes = free_port(), []
    argv = ["ui", "--port", str(port), "--auth", "alice:s3cret", "--no-warmup"]
    thread = threading.Thread(target=lambda: codes.append(cli.main(argv, settings=corpus_index)), daemon=True)
    thread.start()
    try:
        ended = lambda: None if thread.is_alive() else f"policy-qa ui returned {codes}"  # noqa: E731
        page = _wait_for(f"http://127.0.0.1:{port}/", ended, time.monotonic() + 60)
        assert page.status_code == 200 and '"auth_required":true' in page.text
        _check_served_app(port)
    finally:
        for server in servers:
            server.should_exit = True
        thread.join(timeout=30)
    assert codes == [0] and len(servers) == 1
    assert f"http://127.0.0.1:{port}/" in capsys.readouterr().out  # the ready line


@pytest.mark.usefixtures("restore_logging")
def test_open_bind_without_password_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--host", "0.0.0.0", "--auth", ""]) == 2
    assert cli.main(["ui", "--host", "192.168.1.5", "--auth", "nopassword"]) == 2
    err = capsys.readouterr().err
    assert "拒绝启动" in err and "--auth" in err
    with pytest.raises(ValueError):
        create_app(_settings(), host="0.0.0.0", chat_engine_factory=fake_factory, documents=DOCUMENTS)


# -- row 9: login throttling, nothing before login, Host, Origin --------------------------------------------


@pytest.mark.usefixtures("fake_filters")
def test_wrong_logins_are_throttled() -> None:
    """Before: 30 wrong passwords in 0.64 s, every one answered 400 (no limit)."""
    with serving(_settings(), chat_engine_factory=fake_factory, documents=DOCUMENTS, auth=AUTH) as url:
        with httpx.Client(base_url=url, timeout=10) as client:
            codes = [client.post("/login", data={"username": "alice", "password": f"x{i}"}) for i in range(30)]
            right = client.post("/login", data={"username": "alice", "password": "s3cret"})
    assert [r.status_code for r in codes[:5]] == [400] * 5
    assert {r.status_code for r in codes[5:]} == {429}
    assert "登录失败次数过多" in codes[-1].json()["detail"] and int(codes[-1].headers["retry-after"]) > 0
    assert right.status_code == 429  # guessing on cannot reach the password check during the lock-out


def test_login_limiter_window_and_success() -> None:
    """The lock-out ends with the window; a successful login is not counted as a failure."""
    now = [1000.0]

    async def login(request: Request) -> JSONResponse:
        form = await request.form()
        return JSONResponse({}, status_code=200 if form["password"] == "ok" else 400)

    app = LoginLimiter(Starlette(routes=[Route("/login", login, methods=["POST"])]), 3, 60.0, clock=lambda: now[0])
    client = TestClient(app)
    assert [client.post("/login", data={"password": "ok"}).status_code for _ in range(5)] == [200] * 5
    assert [client.post("/login", data={"password": "no"}).status_code for _ in range(4)] == [400, 400, 400, 429]
    now[0] += 61
    assert client.post("/login", data={"password": "ok"}).status_code == 200


def test_nothing_but_the_login_page_before_login(locked_url: str) -> None:
    """Before: the login page embedded window.gradio_api_info with every endpoint, document id and place."""
    for path in ["/", "/?all_endpoints=true", "/?view=api"]:
        page = httpx.get(locked_url + path, timeout=10)
        assert page.status_code == 200 and '"auth_required":true' in page.text
        leaked = [s for s in [*DOC_IDS, *PLACES, "/chat", "named_endpoints\":{\""] if s in page.text]
        assert leaked == [], f"{path} leaks {leaked}"
    for path in ["/config", "/gradio_api/info", "/gradio_api/openapi.json", "/gradio_api/runs",
                 "/gradio_api/startup-events", "/gradio_api/app_id", "/manifest.json", "/gradio_api/queue/status"]:
        response = httpx.get(locked_url + path, timeout=10)
        assert response.status_code == 401, path
        assert not any(s in response.text for s in DOC_IDS + PLACES)
    assert httpx.get(locked_url + "/theme.css", timeout=10).status_code == 200  # what the login page needs


def test_api_docs_work_offline(open_url: str) -> None:
    """Before: /docs loaded Swagger UI from cdn.jsdelivr.net, a blank page without internet."""
    page = httpx.get(open_url + "/docs", timeout=10)
    assert page.status_code == 200 and "cdn." not in page.text and "/docs-assets/swagger-ui-bundle.js" in page.text
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"]:
        response = httpx.get(f"{open_url}/docs-assets/{asset}", timeout=10)
        assert response.status_code == 200 and len(response.content) > 10_000, asset
    assert "/v1/chat/completions" in httpx.get(open_url + "/openapi.json", timeout=10).json()["paths"]


def test_after_login_the_ui_is_whole(locked_url: str) -> None:
    with httpx.Client(base_url=locked_url, timeout=10) as client:
        assert client.post("/login", data={"username": "alice", "password": "s3cret"}).status_code == 200
        page = client.get("/")
        assert page.status_code == 200 and "wz-xsg" in page.text and "温州市" in page.text
        assert client.get("/config").status_code == 200
        assert client.get("/gradio_api/info").status_code == 200


@pytest.mark.parametrize(
    ("host", "status"),
    [("evil.example", 400), ("evil.example:{port}", 400), ("127.0.0.1.evil.example", 400), ("", 400),
     ("127.0.0.1:{port}", 200), ("localhost:{port}", 200), ("[::1]:{port}", 200), ("LOCALHOST", 200)],
)
def test_only_own_host_names_are_served(open_url: str, host: str, status: int) -> None:
    """Before: `Host: evil.example` was answered (DNS rebinding)."""
    port = open_url.rsplit(":", 1)[1]
    response = httpx.get(open_url + "/", headers={"Host": host.format(port=port)}, timeout=10)
    assert response.status_code == status
    if status == 400:
        assert "POLICY_QA_ALLOWED_HOSTS" in response.json()["detail"] and "wz-xsg" not in response.text


def test_cross_origin_posts_are_refused(open_url: str) -> None:
    """Before: a multipart upload from another origin was accepted."""
    files = {"files": ("a.txt", b"x", "text/plain")}
    evil = httpx.post(open_url + "/gradio_api/upload", files=files, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and "POLICY_QA_CORS_ORIGINS" in evil.json()["detail"]
    null = httpx.post(open_url + "/gradio_api/upload", files=files, headers={"Origin": "null"})
    assert null.status_code == 403
    own = httpx.post(open_url + "/gradio_api/upload", files=files, headers={"Origin": open_url})
    assert own.status_code == 200
    api = httpx.post(open_url + "/v1/chat/completions", json={}, headers={"Origin": "https://evil.example"})
    assert api.status_code == 403 and api.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in api.headers  # CORS is off unless configured


@pytest.mark.skipif(not API_PRESENT, reason="needs the /v1 API")
@pytest.mark.usefixtures("fake_filters")
def test_configured_cors_origin_may_call_the_api() -> None:
    settings = _settings(cors_origins=["https://app.example"])
    with serving(settings, chat_engine_factory=fake_factory, documents=DOCUMENTS) as url:
        headers = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
        preflight = httpx.options(url + "v1/chat/completions", headers=headers)
        assert preflight.headers.get("access-control-allow-origin") == "https://app.example"
        models = httpx.get(url + "v1/models", headers={"Origin": "https://app.example"})
        assert models.headers.get("access-control-allow-origin") == "https://app.example"
        other = httpx.post(url + "v1/chat/completions", json={}, headers={"Origin": "https://other.example"})
        assert other.status_code == 403


# -- row 10: request bodies capped at the edge --------------------------------------------------------------


def test_oversized_bodies_get_413_and_the_server_stays_up(open_url: str) -> None:
    """Before: 30–50 MB bodies were read in full (a 30 MB /gradio_api/queue/join was queued: 200)."""
    big = b'{"data": ["' + b"x" * 30_000_000 + b'"], "fn_index": 0, "session_hash": "s1"}'
    json_type = {"content-type": "application/json"}
    started = time.monotonic()
    ui = httpx.post(open_url + "/gradio_api/queue/join", content=big, headers=json_type, timeout=30)
    api = httpx.post(open_url + "/v1/chat/completions", content=big, headers=json_type, timeout=30)
    assert time.monotonic() - started < 20  # generous: a catastrophic read-it-all would be far slower on 2 cores
    assert ui.status_code == 413 and "请求内容过大" in ui.json()["detail"]
    assert api.status_code == 413 and api.json()["error"]["code"] == "request_too_large"
    assert "请求内容过大" in api.json()["error"]["message"]

    def chunks(head: bytes = b"") -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield head
        for _ in range(40):
            yield b"y" * 65_536

    part = b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\n'
    multipart = {"content-type": "multipart/form-data; boundary=b"}
    streamed = httpx.post(open_url + "/gradio_api/upload", content=chunks(part), headers=multipart, timeout=30)
    assert streamed.status_code == 413
    streamed = httpx.post(open_url + "/v1/chat/completions", content=chunks(), timeout=30)
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "request_too_large"
    assert httpx.get(open_url + "/", timeout=10).status_code == 200


def test_declared_length_is_refused_before_the_body_is_sent(open_url: str) -> None:
    host, port = open_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n".encode())
        reply = sock.recv(4096).decode("utf-8", "replace")
    assert reply.startswith("HTTP/1.1 413")


# -- row 12: secrets never reach the log --------------------------------------------------------------------

REDACTION_CASES = [
    ("POST http://bob:pw-S3CRET@127.0.0.1:9/v1/chat", "pw-S3CRET", "http://***@127.0.0.1:9/v1/chat"),
    ("url=https://u%40x:p@ss@api.example/v1", "p@ss", "https://***@api.example/v1"),
    ("postgresql+psycopg://app:dbpw123@db:5432/qa", "dbpw123", "postgresql+psycopg://***@db:5432/qa"),
    ("{'Authorization': 'Bearer sk-abcdef1234567890'}", "sk-abcdef", "'Authorization': '***'"),
    ("authorization: Basic Ym9iOnB3LVMzQ1JFVA==", "Ym9iOnB3", "authorization: ***"),
    ("sent Bearer pqa-0123456789abcdef to the API", "pqa-0123456789", "Bearer ***"),
    ("key sk-proj-ABCDEFGHIJKLMNOP in a message", "ABCDEFGHIJ", "sk-***"),
    ("created pqa-Zm9vYmFyYmF6cXV4 for ci", "Zm9vYmFyYmF6", "pqa-***"),
    ("api_key=abc123secret&x=1", "abc123secret", "api_key=***&x=1"),
    ('{"password": "hunter22", "user": "bob"}', "hunter22", '"password": "***"'),
]
UNTOUCHED = [
    "GET http://127.0.0.1:7860/v1/models 200",
    "mailto:someone@example.org and task-1234567890 and max_tokens=200",
    "温州市 首次小升规 奖励20万元",
]


@pytest.mark.parametrize(("text", "secret", "expected"), REDACTION_CASES)
def test_redact_hides_secrets(text: str, secret: str, expected: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned and expected in cleaned


@pytest.mark.parametrize("text", UNTOUCHED)
def test_redact_leaves_ordinary_text(text: str) -> None:
    assert redact(text) == text


def test_filter_cleans_args_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test_server.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("calling %s with %s", "http://u:topsecret@h/v1", {"api_key": "sk-0123456789abcdef"})
        try:
            raise ConnectionError("cannot reach http://u:topsecret@h/v1")
        except ConnectionError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "topsecret" not in text and "sk-0123456789" not in text
    assert "with {'api_key': '***'}" in text and "ConnectionError: cannot reach http://***@h/v1" in text


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_installs_the_filter_on_root_handlers() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        configure_logging(_settings(log_level="DEBUG"))
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
    finally:
        root.removeHandler(handler)


@pytest.mark.usefixtures("restore_logging")
def test_debug_log_never_shows_url_credentials(
    corpus_index: Settings, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: with POLICY_QA_LOG_LEVEL=DEBUG the openai client logged http://user:pass@host/... verbatim.
    ``policy-qa ask --answerer llm`` in-process: its logging set-up filters the root handlers (here pytest's)."""
    question = "温州对首次小升规企业奖励多少？"
    with FakeOpenAIServer() as llm:
        settings = corpus_index.model_copy(update={
            "log_level": "DEBUG",
            "llm_max_retries": 0,
            "openai_base_url": llm.base_url.replace("http://", "http://bob:pw-S3CRET@"),
            "openai_api_key": SecretStr("sk-test0123456789abcdef"),
        })  # fmt: skip
        code = cli.main(["ask", question, "--answerer", "llm"], settings=settings)
        out, err = capsys.readouterr()
        assert llm.requests, f"no request reached the stub (exit {code}):\n{err[-2000:]}"
    log = caplog.text + out + err + "\n".join(r.getMessage() for r in caplog.records)
    assert "DEBUG" in caplog.text and "http://***@127.0.0.1" in log  # the lines are there, cleaned
    assert "pw-S3CRET" not in log and "sk-test0123456789" not in log


# -- small rules --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("[::1]:7860", ("::1", 7860)), ("Example.ORG.", ("example.org", None)), ("a.example:80", ("a.example", 80)),
     ("127.0.0.1", ("127.0.0.1", None)), ("h:bad", ("h", None)), ("[2001:db8::5]", ("2001:db8::5", None))],
)
def test_split_host(value: str, expected: tuple[str, int | None]) -> None:
    assert split_host(value) == expected


@pytest.mark.parametrize(
    ("bind", "configured", "expected_extra"),
    [("127.0.0.1", [], []), ("192.168.1.5", [], ["192.168.1.5"]), ("0.0.0.0", [], ["box"]),
     ("2001:db8::5", [], ["2001:db8::5"]), ("::", ["[2001:db8::5]:7860"], ["2001:db8::5"]),
     ("0.0.0.0", ["qa.example.com", "*.corp.example"], ["qa.example.com", "*.corp.example"])],
)
def test_default_allowed_hosts(bind: str, configured: list[str], expected_extra: list[str]) -> None:
    assert default_allowed_hosts(bind, configured, "box") == ["localhost", "127.0.0.1", "::1", *expected_extra]


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [("http://127.0.0.1:7860", "127.0.0.1:7860", True), ("https://qa.example", "qa.example", True),
     ("https://qa.example", "qa.example:443", True), ("http://qa.example", "qa.example:8080", False),
     ("http://evil.example", "127.0.0.1:7860", False), ("null", "127.0.0.1:7860", False),
     ("https://app.example", "127.0.0.1:7860", True), ("http://127.0.0.1:9999", "127.0.0.1:7860", False)],
)
def test_origin_rule(origin: str, host: str, allowed: bool) -> None:
    assert OriginCheck(None, ["https://app.example/"]).allows(origin, host) is allowed  # type: ignore[arg-type]
