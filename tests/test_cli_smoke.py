"""The two real-process smoke tests of the command line, as a user runs it (everything else about the CLI runs
in-process through ``cli.main``): the installed ``policy-qa serve`` from another folder, and
``python -m assistant.cli ask``. Both start at once, so their interpreters load side by side.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assistant.server import free_port
from assistant.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
QUESTION = "温州对首次小升规企业奖励多少？"
API_PRESENT = (PROJECT_ROOT / "assistant" / "api" / "__init__.py").exists()


@dataclass
class Smoke:
    serve: subprocess.Popen[str]
    port: int
    ask: subprocess.Popen[str]


@pytest.fixture(scope="module")
def smoke(corpus_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smoke]:
    """Both processes, settings from the environment only (no POLICY_QA_/OPENAI_ variables of this shell)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLICY_QA_", "OPENAI_"))}
    env |= {"POLICY_QA_INDEX_DIR": str(corpus_index.index_dir), "POLICY_QA_ANSWERER": "extractive"}
    port = free_port()
    serve_args = [str(VENV_BIN / "policy-qa"), "serve", "--port", str(port), "--auth", "alice:s3cret", "--no-warmup"]
    serve = subprocess.Popen(
        serve_args, cwd=tmp_path_factory.mktemp("elsewhere"), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    ask = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "ask", QUESTION], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
    )  # fmt: skip
    try:
        yield Smoke(serve, port, ask)
    finally:
        for proc in (serve, ask):
            if proc.poll() is None:
                proc.terminate()
                proc.communicate(timeout=30)


def _wait_for(url: str, proc: subprocess.Popen[str], deadline: float) -> httpx.Response:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"server exited with {proc.returncode}:\n{out}\n{err}")
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"{url} did not answer within the deadline")


def test_policy_qa_serve_starts_as_documented(smoke: Smoke) -> None:
    """Before: `ui` imported the repo-root ui.py (ModuleNotFoundError elsewhere), rejected --port/--auth;
    `serve` did not exist. (`ui` as the same command: tests/test_server.py, in-process.)"""
    base = f"http://127.0.0.1:{smoke.port}"
    try:
        page = _wait_for(base + "/", smoke.serve, time.monotonic() + 120)
        assert page.status_code == 200 and '"auth_required":true' in page.text  # the login page
        assert httpx.get(base + "/config", timeout=10).status_code == 401
        if API_PRESENT:
            models = httpx.get(base + "/v1/models", timeout=10)
            assert models.status_code == 200 and models.json()["object"] == "list"
        assert httpx.get(base + "/docs", timeout=10).status_code == 200
    finally:
        smoke.serve.terminate()
        out, _ = smoke.serve.communicate(timeout=30)
    assert f"{base}/" in out  # the ready line


def test_policy_qa_ask_in_a_real_process(smoke: Smoke) -> None:
    """A fresh interpreter, settings from the environment, the exit code from ``SystemExit``."""
    out, err = smoke.ask.communicate(timeout=300)
    assert "Traceback" not in out + err, err[-2000:]
    assert smoke.ask.returncode == 0, err[-1000:]
    answer = out.split("\n\n来源：")[0]
    assert "[1]" in answer and ("20万元" in answer or "20萬元" in answer), answer[:300]
    assert "\n\n来源：\n[1] 《" in out
