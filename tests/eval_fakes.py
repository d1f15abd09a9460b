"""Deterministic stand-ins for the eval tests: hand-made passages and a pipeline that replays scripted results.

They live with the tests, not in the ``eval`` package: nothing the harness runs needs them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from llama_index.core.schema import NodeWithScore, TextNode

from eval.dataset import Question
from eval.pipelines import PipelineResult


def passage(
    text: str, node_id: str, file: str = "doc.txt", section: str = "", score: float = 1.0
) -> NodeWithScore:
    return NodeWithScore(
        node=TextNode(text=text, id_=node_id, metadata={"file": file, "section": section}), score=score
    )


def result(
    retrieved: Sequence[NodeWithScore] = (),
    answer: str = "",
    answerable: bool = True,
    cited: Sequence[NodeWithScore] = (),
    retrieval_ms: float = 5.0,
    total_ms: float = 20.0,
) -> PipelineResult:
    return PipelineResult(list(retrieved), answer, answerable, list(cited), retrieval_ms, total_ms)


class FakePipeline:
    """Answers from a script: question id -> result (or a function of the question); records the calls."""

    def __init__(
        self, name: str, script: dict[str, PipelineResult | Callable[[Question], PipelineResult]]
    ) -> None:
        self.name = name
        self.script = script
        self.asked: list[str] = []

    def ask(self, question: Question) -> PipelineResult:
        self.asked.append(question.id)
        entry = self.script[question.id]
        return entry(question) if callable(entry) else entry
