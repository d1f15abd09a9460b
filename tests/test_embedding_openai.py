"""The OpenAI-compatible embeddings path (POLICY_QA_EMBEDDER=openai) against a loopback server, with the
real ``openai`` client: batching, a concurrency limit, retries on 429/500, and a build that resumes."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.index.build import update_index
from assistant.index.catalog import open_catalog
from assistant.index.layout import Layout
from assistant.settings import IndexingSettings, Settings

DIM = 16


def vector(text: str) -> list[float]:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32).tolist()


@dataclass
class _State:
    delay: float = 0.0  # seconds per request, so concurrent requests overlap
    script: list[int] = field(default_factory=list)  # statuses of the next requests (then 200)
    fail_after: int | None = None  # successful requests before every later one gets 500
    inputs: list[list[str]] = field(default_factory=list)  # inputs of the requests answered 200
    statuses: list[int] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        state: _State = self.server.state
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        texts = [payload["input"]] if isinstance(payload["input"], str) else list(payload["input"])
        with state.lock:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            ok = sum(s == 200 for s in state.statuses)
            status = state.script.pop(0) if state.script else 200
            if state.fail_after is not None and ok >= state.fail_after:
                status = 500
            state.statuses.append(status)
        time.sleep(state.delay)
        with state.lock:
            state.in_flight -= 1
            if status == 200:
                state.inputs.append(texts)
        if status != 200:
            return self._send(status, {"error": {"message": f"fake {status}"}}, {"retry-after-ms": "5"})
        b64 = payload.get("encoding_format") == "base64"  # the openai client asks for base64 by default
        data = [
            {"object": "embedding", "index": i,
             "embedding": base64.b64encode(np.asarray(vector(t), "<f4").tobytes()).decode() if b64 else vector(t)}
            for i, t in enumerate(texts)
        ]
        self._send(200, {"object": "list", "data": data, "model": payload.get("model"),
                         "usage": {"prompt_tokens": 1, "total_tokens": 1}})

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def embeddings_server() -> Iterator[tuple[str, _State]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.state = _State()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.state
    finally:
        server.shutdown()
        server.server_close()


def _settings(small_settings: Settings, url: str, **indexing: Any) -> Settings:
    opts = {"embed_batch_size": 3, "embed_concurrency": 2, "embed_max_retries": 2, **indexing}
    return Settings(corpus_dir=small_settings.corpus_dir, index_dir=small_settings.index_dir, answerer="extractive",
                    embedder="openai", openai_base_url=url, openai_api_key="sk-test", embed_model="fake-embed",
                    indexing=IndexingSettings(**opts))


def _more_documents(corpus: Path, n: int = 4) -> None:
    for i in range(n):
        (corpus / f"extra_{i}.txt").write_text(
            f"丁市第{i}号通知\n\n" + "".join(f"{'一二三四五'[j]}、第{j}项措施\n对企业给予支持，金额{i}{j}万元。\n" for j in range(5)),
            encoding="utf-8",
        )


def test_batches_of_the_set_size_with_at_most_the_set_concurrency(
    embeddings_server: tuple[str, _State], small_settings: Settings, small_corpus: Path
) -> None:
    url, state = embeddings_server
    state.delay = 0.15
    _more_documents(small_corpus)
    settings = _settings(small_settings, url)
    report = update_index(settings, progress=False)
    sent = [t for batch in state.inputs for t in batch]
    assert report.embedded == len(sent) == len(set(sent)) > 6  # each passage once
    assert max(len(b) for b in state.inputs) == 3 and all(len(b) <= 3 for b in state.inputs)
    assert state.max_in_flight == 2  # overlapping, never more than the limit
    cat = open_catalog(settings)
    assert cat.meta["embedder_id"] == "openai-fake-embed" and len(cat.node_ids) == report.chunks
    hits = cat.collection.query(query_embeddings=[vector(sent[0])], n_results=1)
    assert cat.nodes[hits["ids"][0][0]] is not None and hits["distances"][0][0] < 1e-5  # the stored vectors


def test_429_and_500_are_retried(embeddings_server: tuple[str, _State], small_settings: Settings) -> None:
    url, state = embeddings_server
    state.script = [429, 500]
    report = update_index(_settings(small_settings, url, embed_concurrency=1), progress=False)
    assert state.statuses[:3] == [429, 500, 200] and report.chunks > 0
    assert report.embedded == sum(len(b) for b in state.inputs)


def test_an_interrupted_build_resumes_where_it_stopped(
    embeddings_server: tuple[str, _State], small_settings: Settings, small_corpus: Path
) -> None:
    import openai

    url, state = embeddings_server
    _more_documents(small_corpus, 6)
    settings = _settings(small_settings, url, embed_max_retries=1)
    state.fail_after = 4  # the endpoint goes down after four batches
    with pytest.raises(openai.APIStatusError):
        update_index(settings, progress=False)
    assert Layout(settings.index_dir).current_id() is None
    first = {t for batch in state.inputs for t in batch}
    assert len(first) >= 4 * 3 - 3

    state.fail_after, state.inputs = None, []  # it comes back: only what is missing is sent
    report = update_index(settings, progress=False)
    second = {t for batch in state.inputs for t in batch}
    assert not first & second and report.embedded == len(second) > 0
    assert len(open_catalog(settings).node_ids) == report.chunks
