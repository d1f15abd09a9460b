"""The eval harness with an LLM answerer (loopback server): it runs, judges, and never writes the key.

``python -m eval run`` runs in a process of its own, forked from the session's warm interpreter
(tests/forking.py) instead of a fresh ``python -m``: the same command and environment, without ~5 s of imports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from openai_server import FakeOpenAIServer, Reply

from assistant.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.slow
SECRET = "sk-test-SECRET-eval-4242"
PYTHON_M_EVAL = "import sys\nsys.argv = {argv!r}\nrunpy.run_module('eval', run_name='__main__', alter_sys=True)\n"


def test_llm_eval_run_writes_no_secret(corpus_index: Settings, tmp_path: Path, zygote) -> None:
    questions = tmp_path / "q.jsonl"
    rows = [json.loads(line) for line in (PROJECT_ROOT / "eval" / "questions.jsonl").open(encoding="utf-8")]
    questions.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows[:3]) + "\n", encoding="utf-8")
    out = tmp_path / "report"
    reply = Reply(text='聊城对新增规上企业分两年给予最高10万元的奖励[1]。{"score": 1.0}')
    with FakeOpenAIServer(default=reply) as server:
        env = {**os.environ, "OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": server.base_url, "POLICY_QA_LLM_TIMEOUT": "5"}
        argv = [
            "python -m eval", "run", "--questions", str(questions),
            "--corpus", str(corpus_index.corpus_dir), "--index-dir", str(corpus_index.index_dir),
            "--compare", "hybrid", "--answerer", "llm", "--no-progress", "--out", str(out),
        ]  # fmt: skip
        proc = zygote.run(PYTHON_M_EVAL.format(argv=argv), env, timeout=600, stderr_apart=True)  # cwd: the checkout
        assert server.requests, "the LLM endpoint was never called"
        assert all(r.headers.get("Authorization", "").endswith(SECRET) for r in server.requests)
    assert proc.returncode == 0, proc.output[-2000:] + proc.errors[-2000:]
    assert "faithfulness" in proc.output
    assert SECRET not in proc.output + proc.errors
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".json", ".jsonl", ".md"}:
            assert SECRET not in path.read_text(encoding="utf-8"), path
