"""The product's engines: the qa engines with comparison questions routed to ``compare``.

qa answers one question from passages; a question that compares places ("温州和乐清分别…") is a decision
table. This module wires the two, so that qa never imports this stage and the import graph stays one-way.
"""

from __future__ import annotations

from datetime import date

from assistant.core.schema import Answer
from assistant.core.validity import Validity
from assistant.decisions.comparing import compare
from assistant.qa import engine as qa_engine
from assistant.qa.engine import PolicyChatEngine, PolicyQueryEngine
from assistant.settings import Settings


def compare_answer(
    question: str, places: list[str] | None, engine: PolicyQueryEngine, as_of: date | None, validity: Validity | None
) -> Answer:
    """A comparison question answered as the comparison table's text, with its citations."""
    return compare(question, places, engine=engine, as_of=as_of, validity=validity).to_answer(question)


def build_query_engine(settings: Settings | None = None, **kwargs: object) -> PolicyQueryEngine:
    """The product's query engine (``assistant.build_query_engine``); same arguments as the qa one."""
    return qa_engine.build_query_engine(settings, comparer=compare_answer, **kwargs)  # type: ignore[arg-type]


def build_chat_engine(settings: Settings | None = None, **kwargs: object) -> PolicyChatEngine:
    """The product's chat engine (``assistant.build_chat_engine``)."""
    return qa_engine.build_chat_engine(settings, comparer=compare_answer, **kwargs)  # type: ignore[arg-type]
