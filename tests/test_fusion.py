"""Weighted reciprocal-rank fusion and the adjustments after it: the arithmetic that orders every answer's
sources, on plain tables (assistant/retrieval/fusion.py)."""

from __future__ import annotations

import tomllib
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.retrieval.fusion import Adjustment, adjusted, interleave, ranked, weighted_rrf
from assistant.settings import FUSION_FILE, RetrievalSettings, Settings


@pytest.mark.parametrize(
    ("rankings", "weights", "k", "expected"),
    [
        # one leg: weight / (k + rank), rank from 1
        ([["a", "b"]], [1.0], 20.0, {"a": 1 / 21, "b": 1 / 22}),
        # both legs agree: the sums
        ([["a", "b"], ["a", "b"]], [1.0, 1.5], 20.0, {"a": 1 / 21 + 1.5 / 21, "b": 1 / 22 + 1.5 / 22}),
        # BM25's first beats the dense leg's first: its weight is higher
        ([["a", "b"], ["b", "c"]], [1.0, 1.5], 20.0, {"a": 1 / 21, "b": 1 / 22 + 1.5 / 21, "c": 1.5 / 22}),
        # a smaller k makes the top ranks count more
        ([["a", "b"]], [1.0], 1.0, {"a": 1 / 2, "b": 1 / 3}),
        # an empty leg adds nothing; no legs, no scores
        ([["a"], []], [1.0, 1.5], 20.0, {"a": 1 / 21}),
        ([], [], 20.0, {}),
        # a weight of 0 switches a leg off but keeps its keys (at 0)
        ([["a"], ["b"]], [1.0, 0.0], 20.0, {"a": 1 / 21, "b": 0.0}),
    ],
)
def test_weighted_rrf(
    rankings: list[list[str]], weights: list[float], k: float, expected: dict[str, float]
) -> None:
    assert weighted_rrf(rankings, weights, k) == pytest.approx(expected)


def test_weighted_rrf_keys_come_in_order_of_first_appearance() -> None:
    """Equal scores keep this order when ranked: the dense leg's passages first, then BM25's new ones."""
    fused = weighted_rrf([["x", "y"], ["z", "y", "x"]], [1.0, 1.0], 20.0)
    assert list(fused) == ["x", "y", "z"]
    tie = weighted_rrf([["p"], ["q"]], [1.0, 1.0], 20.0)
    assert ranked(tie) == [("p", 1 / 21), ("q", 1 / 21)]


def test_weighted_rrf_needs_a_weight_per_leg() -> None:
    with pytest.raises(ValueError):
        weighted_rrf([["a"], ["b"]], [1.0], 20.0)


@pytest.mark.parametrize(
    ("scores", "adjustments", "expected"),
    [
        ({"a": 0.1, "b": 0.2}, [], {"a": 0.1, "b": 0.2}),
        # a named document's passage: +1 lifts it over any unnamed one
        ({"a": 0.1, "b": 0.2}, [Adjustment({"a"}, add=1.0)], {"a": 1.1, "b": 0.2}),
        # + then ×: (0.1 + 1) × 1.15, not 0.1 × 1.15 + 1
        ({"a": 0.1}, [Adjustment({"a"}, add=1.0), Adjustment({"a"}, factor=1.15)], {"a": 1.1 * 1.15}),
        ({"a": 0.1}, [Adjustment({"a"}, factor=1.15), Adjustment({"a"}, add=1.0)], {"a": 0.1 * 1.15 + 1.0}),
        # factors compound, keys outside an adjustment are left alone
        (
            {"a": 0.2, "b": 0.2},
            [Adjustment({"a", "b"}, factor=1.15), Adjustment({"b"}, factor=0.5)],
            {"a": 0.2 * 1.15, "b": 0.2 * 1.15 * 0.5},
        ),
        # a key in no score is not added
        ({"a": 0.2}, [Adjustment({"z"}, add=1.0)], {"a": 0.2}),
    ],
)
def test_adjusted(
    scores: dict[str, float], adjustments: list[Adjustment], expected: dict[str, float]
) -> None:
    out = adjusted(scores, adjustments)
    assert out == pytest.approx(expected)
    assert list(out) == list(scores)


def test_adjusted_leaves_its_input_alone() -> None:
    scores = {"a": 0.5}
    adjusted(scores, [Adjustment({"a"}, add=1.0)])
    assert scores == {"a": 0.5}


@pytest.mark.parametrize(
    ("lists", "expected"),
    [
        ([[("a", 3.0), ("b", 2.0)]], ["a", "b"]),
        # one place each in turn, so each gets its share of the top k
        ([[("a", 3.0), ("b", 2.0), ("c", 1.0)], [("x", 0.5), ("y", 0.4)]], ["a", "x", "b", "y", "c"]),
        # a passage in both scopes counts once, where it first comes
        ([[("a", 3.0), ("s", 2.0)], [("s", 0.9), ("y", 0.4)]], ["a", "s", "y"]),
        ([[], [("x", 1.0)]], ["x"]),
        ([], []),
    ],
)
def test_interleave(lists: list[list[tuple[str, float]]], expected: list[str]) -> None:
    assert [key for key, _ in interleave(lists)] == expected


def test_ranked_is_best_first() -> None:
    assert ranked({"a": 0.1, "b": 0.3, "c": 0.2}) == [("b", 0.3), ("c", 0.2), ("a", 0.1)]


def test_retrieval_constants_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fusion's numbers come from Settings.retrieval and can be set per deployment (and swept); the
    fitted ones default to what ``python -m eval fit-fusion`` wrote, with its provenance, in fusion.toml."""
    fitted = tomllib.loads(FUSION_FILE.read_text(encoding="utf-8"))
    defaults = RetrievalSettings()
    assert {k: getattr(defaults, k) for k in fitted["fitted"]} == fitted["fitted"]
    assert {"data", "split", "metric", "grid_rrf_k", "heldout_hit5"} <= set(fitted["provenance"])
    assert (defaults.named_document_boost, defaults.leg_depth) == (1.0, 100)
    monkeypatch.setenv("POLICY_QA_RETRIEVAL__RRF_K", "30")
    monkeypatch.setenv("POLICY_QA_RETRIEVAL__EXACT_PLACE_FACTOR", "1.3")
    monkeypatch.setenv("POLICY_QA_RETRIEVAL__CHAR_WEIGHT", "0")
    tuned = Settings().retrieval
    assert (tuned.rrf_k, tuned.exact_place_factor, tuned.char_weight) == (30.0, 1.3, 0.0)
    assert tuned.sparse_weight == fitted["fitted"]["sparse_weight"]


# order(): the product's fusion of one question's rankings (positions 0..3 of a 4-passage build; passages
# 0-1 in document "a", 2-3 in "b"), as retrieve_detailed and fit-fusion both run it.
_W = {"rrf_k": 1.0, "legs": (1.0, 1.0, 0.0), "named_document_boost": 0.0, "exact_place_factor": 1.0,
      "superseded_weight": 1.0}


@pytest.mark.parametrize(
    ("rankings", "weights", "named", "exact", "expected"),
    [
        # two legs agree on 1 first
        ([[1, 0], [1, 2]], {}, [], [], ["n1", "n0", "n2"]),
        # the character leg at weight 0 is left out: its passages do not even enter (as before it existed)
        ([[1, 0], [1, 2], [3]], {}, [], [], ["n1", "n0", "n2"]),
        # weighted, it lifts the passage only it found over ones a single other leg found lower down
        ([[1, 0], [1, 2], [3]], {"legs": (1.0, 1.0, 1.0)}, [], [], ["n1", "n3", "n0", "n2"]),
        # a heavier word leg puts its first above the dense leg's
        ([[0, 1], [2, 0]], {"legs": (1.0, 4.0, 0.0)}, [], [], ["n2", "n0", "n1"]),
        # a named document's passages first; the very place's passages multiplied
        ([[0, 2], [0, 2]], {"named_document_boost": 1.0}, ["b"], [], ["n2", "n0"]),
        ([[0, 2], [0, 3]], {"exact_place_factor": 4.0}, [], [3], ["n3", "n0", "n2"]),
    ],
)
def test_order(
    rankings: list[list[int]], weights: dict, named: list[str], exact: list[int], expected: list[str]
) -> None:
    from assistant.retrieval.fusion import Weights
    from assistant.retrieval.retriever import Candidates, ScopeLegs, order

    cat = SimpleNamespace(doc_index=np.array(["a", "a", "b", "b"]), node_ids=["n0", "n1", "n2", "n3"])
    mask = np.zeros(4, dtype=bool)
    mask[exact] = True
    plan = SimpleNamespace(named_docs=named)
    cand = Candidates(plan, [ScopeLegs(rankings, mask)], {}, np.zeros(4), frozenset(), None, [], {})  # type: ignore[arg-type]
    got = order(cat, cand, Weights(**{**_W, **weights}))  # type: ignore[arg-type]
    assert [node_id for node_id, _ in got] == expected


def test_retriever_reads_its_constants_from_settings() -> None:
    from assistant.retrieval.retriever import HybridRetriever

    settings = Settings(retrieval=RetrievalSettings(rrf_k=7, dense_weight=2.0, sparse_weight=0.5))
    retriever = HybridRetriever(settings)
    assert (retriever.rrf_k, retriever.dense_weight, retriever.sparse_weight) == (7.0, 2.0, 0.5)
    assert HybridRetriever(settings, rrf_k=3).rrf_k == 3  # an explicit argument still wins
