"""Several processes share one ``chroma run`` server: two answer while a third re-indexes.

The deployment of README "Several processes, one Chroma server": every process names the same index
folder and Chroma server. The indexer publishes new builds (an edit and a new document, then two full
rebuilds, which drop the first build's collection from the server); the answering processes keep
answering throughout, each answer from one build (the old answer or the new one, never an error or a
mix), and switch to the new build on their own.

The Chroma server, each answering process and each ``policy-qa index`` run is a process of its own, forked from
the session's warm interpreter (tests/forking.py) rather than started as ``chroma run``/``python -c``/``python -m``:
same code, same environment, without six interpreters' imports on a 2-core machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest

from assistant.index.build import update_index
from assistant.index.layout import Layout
from assistant.settings import Settings
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
ARGV = "import sys\nsys.argv = {argv!r}\n"
INDEX = ARGV + "runpy.run_module('assistant.cli', run_name='__main__')\n"  # python -m assistant.cli ...
CHROMA = ARGV + "from chromadb.cli.cli import app\napp()\n"  # the `chroma` console script


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _wait(paths: list[Path], more_than: list[int], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while any(len(_records(p)) <= n for p, n in zip(paths, more_than, strict=True)):
        assert time.monotonic() < deadline, "an answering process stopped answering"
        time.sleep(0.1)


@pytest.mark.server
def test_two_processes_answer_while_a_third_reindexes(tmp_path: Path, small_corpus: Path, zygote) -> None:
    from assistant.index import store

    port = _free_port()
    server = zygote.start(CHROMA.format(argv=["chroma", "run", "--path", str(tmp_path / "chroma"),
                                              "--host", "127.0.0.1", "--port", str(port)]), dict(os.environ))
    env = {**os.environ, "POLICY_QA_CORPUS_DIR": str(small_corpus), "POLICY_QA_INDEX_DIR": str(tmp_path / "index"),
           "POLICY_QA_CHROMA_HOST": "127.0.0.1", "POLICY_QA_CHROMA_PORT": str(port), "POLICY_QA_ANSWERER": "extractive"}
    settings = Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index", answerer="extractive",
                        chroma_host="127.0.0.1", chroma_port=port)
    logs, stop, answerers, exits = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"], tmp_path / "stop", [], []
    try:
        store.connect(settings, wait_seconds=30)
        first = update_index(settings, progress=False)
        answerers = [zygote.start(ARGV.format(argv=["-c", str(log), json.dumps(QUESTIONS), str(stop)]) + ANSWERER, env)
                     for log in logs]  # python -c ANSWERER log questions stop
        _wait(logs, [3, 3])  # both answer from the first build

        alpha = small_corpus / "alpha_city_measures.txt"
        alpha.write_text(alpha.read_text(encoding="utf-8").replace("20万元", "30万元"), encoding="utf-8")
        (small_corpus / "gamma_notice.txt").write_text("丙市人才新政\n\n一、人才安居\n对引进的博士给予安家补贴50万元。\n",
                                                       encoding="utf-8")
        for args in (["index"], ["index", "--rebuild"], ["index", "--rebuild"]):  # the third process
            done = zygote.run(INDEX.format(argv=["policy-qa", *args, "--quiet"]), env)
            assert done.returncode == 0, done.output[-2000:]
        _wait(logs, [len(_records(p)) + 4 for p in logs])  # answered from the last build too
    finally:
        stop.touch()
        for child in answerers:
            with contextlib.suppress(TimeoutError):  # a hung one is killed
                exits.append(zygote.wait(child, timeout=60))
        os.kill(server.pid, signal.SIGTERM)
        zygote.wait(server, timeout=20)

    assert [e.returncode for e in exits] == [0, 0], [e.output[-2000:] for e in exits]
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
