"""A warm interpreter that forks a fresh child per script: the kill -9 tests and the tests of other processes.

Each such test used to start ``python -c``, which re-imported LlamaIndex, Chroma and jieba (~4 s of CPU) only
to be killed a moment later. The zygote imports all that once (with the modules of ``python -m eval``, openai,
matplotlib and pypinyin), loads jieba's dictionaries and tiktoken's encoding, and forks a child per script:
the child is a process of its own (its own pid, Chroma client, embedder threads and open files), reads its
settings from the environment it is given, and dies by its own ``SIGKILL`` exactly as the ``python -c`` did.
The zygote itself never embeds or opens an index or a Chroma client before it forks (OpenMP and Chroma's
threads are not fork-safe), and checks that it has a single thread when it does.

``start`` leaves a child running while the test goes on (several at once: the answering processes of
tests/test_chroma_shared.py); ``wait`` then reaps it. ``run`` is both.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from assistant.settings import PROJECT_ROOT

ZYGOTE = r"""
import json, os, sys, threading, traceback
from assistant.settings import prepare_offline_environment
prepare_offline_environment()
import runpy
import assistant, assistant.cli, chromadb, chromadb.api.rust, chromadb.cli.cli, openai, pypinyin  # no client yet
import matplotlib
matplotlib.use("Agg")  # as eval/report.py does before it plots
import matplotlib.pyplot
from eval.__main__ import _parser
_parser()  # imports the module of every `python -m eval` command
del sys.modules["eval.__main__"]  # a child runs it as __main__ (runpy warns when it is imported already)
from assistant.index import build, embedding, layout, postings, segments, sparse
from assistant.core.text import pos_tokenizer, tokenize
from assistant.qa.llm_answerer import count_tokens
tokenize("预热分词词典")  # jieba's dictionary, once for every child
pos_tokenizer().lcut("预热词性词典")  # and its part-of-speech one (a question's place names)
count_tokens("预热")  # tiktoken's bundled encoding (the LLM answerer's prompt budget)

for line in sys.stdin:
    job = json.loads(line)
    if "wait" in job:  # reap a child started earlier
        _, status = os.waitpid(job["wait"], 0)
        print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)
        continue
    assert threading.active_count() == 1, threading.enumerate()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(log, 1)
            os.dup2(os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if job["err"] else log, 2)
            os.environ.clear()
            os.environ.update(job["env"])
            from assistant.settings import get_settings
            get_settings.cache_clear()
            exec(compile(job["script"], "<child>", "exec"), {"__name__": "__main__", "runpy": runpy})
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
os._exit(0)  # no teardown of the warm modules: the test session waits for this exit
"""


@dataclass
class Child:
    pid: int
    log: Path  # its stdout, and its stderr unless apart
    err: Path | None  # its stderr, when apart


@dataclass
class Finished:
    returncode: int  # negative: killed by that signal, as subprocess reports it
    output: str  # the child's stdout and stderr (only its stdout when stderr was kept apart)
    errors: str = ""  # its stderr, when kept apart


class Zygote:
    """``run(script, env)`` = ``subprocess.run([python, "-c", script], env=env)`` without the imports;
    ``start``/``wait`` = ``subprocess.Popen``/``.wait`` (children run side by side; ``wait`` blocks the zygote)."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._count = 0
        self._proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, encoding="utf-8",
        )  # fmt: skip

    def run(self, script: str, env: dict[str, str], timeout: float = 300, stderr_apart: bool = False) -> Finished:
        return self.wait(self.start(script, env, stderr_apart), timeout)

    def start(self, script: str, env: dict[str, str], stderr_apart: bool = False) -> Child:
        """Fork a child that runs ``script`` and return at once (``wait`` reaps it)."""
        self._count += 1
        log = self._workdir / f"child-{self._count}.log"
        err = log.with_suffix(".err") if stderr_apart else None
        pid = json.loads(self._ask({"script": script, "env": env, "log": str(log), "err": str(err or "")}))["pid"]
        return Child(pid, log, err)

    def wait(self, child: Child, timeout: float = 300) -> Finished:
        """The child's exit, as ``subprocess.run`` reports it; killed (TimeoutError) past ``timeout`` s."""
        fired = threading.Event()

        def kill() -> None:  # a hung child: killed, as subprocess.run's timeout does
            fired.set()
            os.kill(child.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            returncode = json.loads(self._ask({"wait": child.pid}))["returncode"]
        finally:
            timer.cancel()
        if fired.is_set():
            raise TimeoutError(f"the child ran past {timeout} s: {child.log}")
        return Finished(returncode, _text(child.log), _text(child.err) if child.err else "")

    def _ask(self, job: dict) -> str:
        assert self._proc.stdin
        self._proc.stdin.write(json.dumps(job) + "\n")
        self._proc.stdin.flush()
        return self._line()

    def _line(self) -> str:
        assert self._proc.stdout
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the zygote died with {self._proc.wait()}")
        return line

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
