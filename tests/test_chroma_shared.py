"""Several processes share one ``chroma run`` server: two answer while a third re-indexes.

The deployment of README "Several processes, one Chroma server": every process names the same index
folder and Chroma server. The indexer publishes new builds (an edit and a new document, then two full
rebuilds, which drop the first build's collection from the server); the answering processes keep
answering throughout, each answer from one build (the old answer or the new one, never an error or a
mix), and switch to the new build on their own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.index.build import update_index
from assistant.index.layout import Layout
from assistant.settings import PROJECT_ROOT, Settings
from tests.test_indexing import _free_port

QUESTIONS = ["首次升规的企业奖励多少？", "引进博士有多少安家补贴？"]

ANSWERER = """
import json, sys
from pathlib import Path
from assistant.settings import Settings, prepare_offline_environment
prepare_offline_environment()
import assistant
settings = Settings()
engine = assistant.build_query_engine(settings)
questions, stop, i = json.loads(sys.argv[2]), Path(sys.argv[3]), 0
with open(sys.argv[1], "a", encoding="utf-8") as out:
    while not stop.exists():
        q = questions[i % len(questions)]
        i += 1
        try:
            rec = {"q": q, "text": engine.answer(q)[0].text}
        except Exception as exc:
            rec = {"q": q, "error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(rec, ensure_ascii=False) + "\\n")
        out.flush()
"""


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _wait(paths: list[Path], more_than: list[int], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while any(len(_records(p)) <= n for p, n in zip(paths, more_than, strict=True)):
        assert time.monotonic() < deadline, "an answering process stopped answering"
        time.sleep(0.5)


@pytest.mark.server
def test_two_processes_answer_while_a_third_reindexes(tmp_path: Path, small_corpus: Path) -> None:
    from assistant.index import store

    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(tmp_path / "chroma"),
         "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {**os.environ, "POLICY_QA_CORPUS_DIR": str(small_corpus), "POLICY_QA_INDEX_DIR": str(tmp_path / "index"),
           "POLICY_QA_CHROMA_HOST": "127.0.0.1", "POLICY_QA_CHROMA_PORT": str(port), "POLICY_QA_ANSWERER": "extractive"}
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index", answerer="extractive",
                        chroma_host="127.0.0.1", chroma_port=port)
    logs, stop, answerers = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"], tmp_path / "stop", []
    try:
        store.connect(settings, wait_seconds=30)
        first = update_index(settings, progress=False)
        answerers = [subprocess.Popen([sys.executable, "-c", ANSWERER, str(log), json.dumps(QUESTIONS), str(stop)],
                                      cwd=PROJECT_ROOT, env=env) for log in logs]
        _wait(logs, [3, 3])  # both answer from the first build

        alpha = small_corpus / "alpha_city_measures.txt"
        alpha.write_text(alpha.read_text(encoding="utf-8").replace("20万元", "30万元"), encoding="utf-8")
        (small_corpus / "gamma_notice.txt").write_text("丙市人才新政\n\n一、人才安居\n对引进的博士给予安家补贴50万元。\n",
                                                       encoding="utf-8")
        for args in (["index"], ["index", "--rebuild"], ["index", "--rebuild"]):  # the third process
            done = subprocess.run([sys.executable, "-m", "assistant.cli", *args, "--quiet"], cwd=PROJECT_ROOT, env=env,
                                  capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-2000:]
        _wait(logs, [len(_records(p)) + 4 for p in logs])  # answered from the last build too
    finally:
        stop.touch()
        for proc in answerers:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)

    layout = Layout(settings.index_dir)
    assert layout.current_id() != first.build_id
    for log in logs:
        records = _records(log)
        assert not [r for r in records if "error" in r]
        for q, old, new in ((QUESTIONS[0], "20万元", "30万元"), (QUESTIONS[1], None, "50万元")):
            texts = [r["text"] for r in records if r["q"] == q]
            before, after = texts[0], texts[-1]
            assert new in after and new not in before and (old is None or old in before)
            assert set(texts) == {before, after}  # each answer from one build: the old one or the new one
            switched = texts.index(after)
            assert texts[switched:] == [after] * (len(texts) - switched)  # never back to the old build
