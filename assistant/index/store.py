"""Chroma clients: embedded under a build directory by default, a Chroma server when configured."""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.settings import Settings

logger = logging.getLogger(__name__)


class StoreUnavailableError(RuntimeError):
    """The vector store cannot be reached; the message names where and what to do."""


def _chroma_settings() -> Any:
    """A fresh copy for each client (Chroma writes its path into the object it is given) of one settings object:
    building one reads the environment through pydantic, ~15-25 ms per reader reopen."""
    return _base_chroma_settings().model_copy()


@lru_cache(maxsize=1)
def _base_chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def server_configured(settings: Settings) -> bool:
    return bool(settings.chroma_host)


def connect(settings: Settings, path: Path | None = None, *, wait_seconds: float = 0.0) -> Any:
    """A Chroma client: a server at chroma_host:chroma_port, or an embedded store at ``path``.

    ``wait_seconds`` polls a server that is still starting, so callers can recover when it returns.
    """
    import chromadb

    if not server_configured(settings):
        if path is None:
            raise ValueError("an embedded Chroma store needs a path")
        return chromadb.PersistentClient(path=str(path), settings=_chroma_settings())

    host, port = settings.chroma_host, settings.chroma_port
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            client = chromadb.HttpClient(host=host, port=port, settings=_chroma_settings())
            client.heartbeat()
            return client
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise StoreUnavailableError(
                    f"无法连接 Chroma 服务器 {host}:{port}（{type(exc).__name__}）。"
                    f"请确认服务器已启动（chroma run --host {host} --port {port}），"
                    "或取消 POLICY_QA_CHROMA_HOST 以使用内置存储。"
                ) from None
            time.sleep(0.2)


def collection_name(build_id: str) -> str:
    return f"policy_qa_{build_id}"


def drop_collections(settings: Settings, build_ids: list[str]) -> None:
    """Drop the Chroma server collections of collected builds (an embedded store goes with its folder)."""
    if not build_ids or not server_configured(settings):
        return
    try:
        client = connect(settings)
        for bid in build_ids:
            try:
                client.delete_collection(collection_name(bid))
            except Exception:  # already gone
                pass
    except StoreUnavailableError as exc:
        logger.warning("could not drop old collections: %s", exc)
