"""What the decisions stage uses of an engine, typed without the engine class.

``compare`` and ``match`` are given a query engine, but read only its settings, its retriever (the catalog
behind it) and, for comparison cells, its answerer. Typing those parts keeps decisions free of the engine
module: the router (``decisions.router``) builds the engine, and qa never imports this stage.
"""

from __future__ import annotations

from typing import Protocol

from assistant.qa.context import Answerer
from assistant.retrieval.retriever import HybridRetriever
from assistant.settings import Settings

__all__ = ["AnsweringEngine", "RetrievingEngine"]


class RetrievingEngine(Protocol):
    """An engine's settings and retriever: enough to reach the index build (``retriever.catalog``)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def retriever(self) -> HybridRetriever: ...


class AnsweringEngine(RetrievingEngine, Protocol):
    """... and the answerer that fills a comparison cell (the LLM when one is configured)."""

    @property
    def answerer(self) -> Answerer: ...
