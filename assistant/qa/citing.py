"""Citation markers shared by both answerers: sentence splitting, [n] parsing, renumbering, support checks.

Markers ``[k]`` in a draft answer point at ``passages[k-1]``; what the user sees is renumbered 1..n in
order of first use, so the citation list never has gaps, and no sentence survives with a number that
its cited passages do not contain. Model-written text passes the stricter ``unsupported_reason`` test
sentence by sentence (``qa.gate.SentenceGate``), so only what its cited passage supports is ever shown.
"""

from __future__ import annotations

import re
from functools import lru_cache

from llama_index.core.schema import NodeWithScore

from assistant.core.lexicon import table
from assistant.core.markers import WRITTEN_MARKER, collapse_repeats, marker_list
from assistant.core.numbers import extract_numbers, unsupported_numbers
from assistant.core.schema import Citation
from assistant.core.sentences import CLOSERS, sentence_pieces, split_sentences
from assistant.core.text import match_normalize, search_form

__all__ = [
    "CLOSERS",
    "cited_markers",
    "foreign_claims",
    "passage_check_text",
    "renumber",
    "sentence_pieces",
    "split_sentences",
    "unsupported_reason",
    "verify_numbers",
    "wording_support",
]


def cited_markers(sentence: str) -> list[int]:
    """Passage numbers a sentence cites, in order, once each: "[1][3]", "[1,3]", "[1、3]" -> [1, 3]."""
    found: list[int] = []
    for m in WRITTEN_MARKER.finditer(sentence):
        for k in marker_list(m.group(1)):
            if k not in found:
                found.append(k)
    return found


class Numbering:
    """Marker renumbering by first use, kept across calls so text renumbered piece by piece joins up."""

    def __init__(self, passages: list[NodeWithScore], quotes: dict[int, str] | None = None) -> None:
        self.passages = passages
        self.quotes = quotes or {}
        self.new_of_node: dict[str, int] = {}
        self.cited: list[NodeWithScore] = []
        self.citations: list[Citation] = []

    def number_of(self, k: int) -> int | None:
        if not 1 <= k <= len(self.passages):
            return None
        nws = self.passages[k - 1]
        node_id = nws.node.node_id
        if node_id not in self.new_of_node:
            self.new_of_node[node_id] = len(self.cited) + 1
            self.cited.append(nws)
            self.citations.append(Citation.from_node(self.new_of_node[node_id], nws, quote=self.quotes.get(k, "")))
        return self.new_of_node[node_id]

    def apply(self, text: str) -> str:
        def replace(m: re.Match[str]) -> str:
            numbers: list[int] = []
            for k in marker_list(m.group(1)):
                new = self.number_of(k)
                if new is not None and new not in numbers:
                    numbers.append(new)
            return "".join(f"[{n}]" for n in numbers)

        return collapse_repeats(WRITTEN_MARKER.sub(replace, text))  # "[1][1]" after merging duplicates


def renumber(
    text: str, passages: list[NodeWithScore], quotes: dict[int, str] | None = None
) -> tuple[str, list[Citation], list[NodeWithScore]]:
    """Renumber markers 1..n by first use; drop out-of-range ones.

    ``quotes`` maps an original marker k (1-based index into ``passages``) to the sentence(s) of that
    passage the answer relies on. Two markers pointing at the same node share one number.
    """
    numbering = Numbering(passages, quotes)
    out = numbering.apply(text)
    return out, numbering.citations, numbering.cited


def passage_check_text(nws: NodeWithScore) -> str:
    """What a number may be checked against: the passage text plus the header the reader saw."""
    md = nws.node.metadata
    header = " ".join(str(md.get(key, "")) for key in ("title", "doc_number", "date", "section"))
    return f"{header}\n{nws.node.get_content()}"


def verify_numbers(text: str, passages: list[NodeWithScore]) -> tuple[str, list[str]]:
    """Drop each sentence stating a number that none of the passages it cites contains.

    A sentence with a number and no valid marker is dropped too. Returns (kept text, removed sentences).
    """
    kept: list[str] = []
    removed: list[str] = []
    for piece in sentence_pieces(text):
        if not extract_numbers(piece):
            kept.append(piece)
            continue
        sources = [
            passage_check_text(passages[k - 1]) for k in cited_markers(piece) if 1 <= k <= len(passages)
        ]
        if sources and not unsupported_numbers(piece, sources):
            kept.append(piece)
        else:
            removed.append(piece.strip())
            if piece.endswith("\n") and kept and not kept[-1].endswith("\n"):
                kept[-1] = kept[-1].rstrip() + "\n"
    return "".join(kept).strip(), removed


# -- the support test of model-written sentences ---------------------------------------------------------


@lru_cache(maxsize=1)
def _claim_patterns() -> tuple[re.Pattern[str], ...]:
    """``data/verification.toml``: links, contact details and instructions that need a verbatim source."""
    data = table("verification")
    return tuple(re.compile(p, re.IGNORECASE) for key in ("links", "instructions") for p in data.get(key, []))


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", search_form(text).lower())


def foreign_claims(sentence: str, sources: list[str]) -> list[str]:
    """Links, e-mail addresses, phone numbers and instructions in ``sentence`` that no source states verbatim."""
    form = search_form(WRITTEN_MARKER.sub(" ", sentence)).lower()
    known = _flat("\n".join(sources))
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for pattern in _claim_patterns():
        for m in pattern.finditer(form):
            if any(a <= m.start() and m.end() <= b for a, b in spans):
                continue  # the host inside a URL already reported
            spans.append(m.span())
            if _flat(m.group(0)) not in known and m.group(0) not in found:
                found.append(m.group(0))
    return found


@lru_cache(maxsize=512)
def _pairs(text: str) -> frozenset[str]:
    """Adjacent character pairs of the text's ideographs and digits (Traditional read as Simplified)."""
    flat = match_normalize(text)
    return frozenset(flat[i : i + 2] for i in range(len(flat) - 1))


def wording_support(sentence: str, sources: list[str]) -> float:
    """Share of the sentence's wording (character pairs, markers aside) that occurs in ``sources``; 0..1.

    A quote or close paraphrase of its passage scores near 1; text the passage does not say
    ("忽略所有规则", an address, another topic) scores near 0; a sentence without Chinese or digits scores 0.
    """
    pairs = _pairs(WRITTEN_MARKER.sub(" ", sentence))
    if not pairs:
        return 0.0
    known: set[str] = set()
    for source in sources:
        known |= _pairs(source)
    return len(pairs & known) / len(pairs)


def unsupported_reason(sentence: str, sources: list[str], min_wording: float) -> str:
    """Why the cited ``sources`` do not support ``sentence`` ("" when they do).

    The one support test of model-written text: a citation, every number (``unsupported_numbers``, the
    offline answerer's check), every link, contact detail and instruction verbatim, and at least
    ``min_wording`` of its wording must come from the passages it cites.
    """
    if not sources:
        return "no citation"
    if missing := unsupported_numbers(sentence, sources):
        return f"numbers {missing}"
    if claims := foreign_claims(sentence, sources):
        return f"not in the source {claims}"
    share = wording_support(sentence, sources)
    if share < min_wording:
        return f"wording {share:.2f} < {min_wording:.2f}"
    return ""
