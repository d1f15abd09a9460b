"""A warm interpreter that forks a fresh child per script, for the kill -9 tests.

Each such test used to start ``python -c``, which re-imported LlamaIndex, Chroma and jieba (~4 s of CPU) only
to be killed a moment later. The zygote imports all that once, loads jieba's dictionary, and forks a child per
script: the child is a process of its own (its own pid, Chroma client, embedder threads and open files), reads
its settings from the environment it is given, and dies by its own ``SIGKILL`` exactly as the ``python -c``
did. The zygote itself never embeds or opens an index before it forks (OpenMP and Chroma's threads are not
fork-safe), and checks that it has a single thread when it does.
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
import assistant.cli
from assistant.index import build, embedding, layout, segments, sparse
from assistant.core.text import tokenize
tokenize("预热分词词典")  # jieba's dictionary, once for every child

for line in sys.stdin:
    job = json.loads(line)
    assert threading.active_count() == 1, threading.enumerate()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(log, 1)
            os.dup2(log, 2)
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
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)
"""


@dataclass
class Finished:
    returncode: int  # negative: killed by that signal, as subprocess reports it
    output: str  # the child's stdout and stderr


class Zygote:
    """``run(script, env)`` = ``subprocess.run([python, "-c", script], env=env)`` without the imports."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._count = 0
        self._proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, encoding="utf-8",
        )  # fmt: skip

    def run(self, script: str, env: dict[str, str], timeout: float = 300) -> Finished:
        self._count += 1
        log = self._workdir / f"child-{self._count}.log"
        assert self._proc.stdin and self._proc.stdout
        self._proc.stdin.write(json.dumps({"script": script, "env": env, "log": str(log)}) + "\n")
        self._proc.stdin.flush()
        pid = json.loads(self._line())["pid"]
        fired = threading.Event()

        def kill() -> None:  # a hung child: killed, as subprocess.run's timeout does
            fired.set()
            os.kill(pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            returncode = json.loads(self._line())["returncode"]
        finally:
            timer.cancel()
        if fired.is_set():
            raise TimeoutError(f"the child ran past {timeout} s: {log}")
        return Finished(returncode, log.read_text(encoding="utf-8", errors="replace") if log.exists() else "")

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
