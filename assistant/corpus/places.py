"""A document's jurisdiction from the place names it leads with or mentions most.

Many corpus files never state their issuer in a parseable way, so the place is read first from the
leading names of the issuer or title (``XX省XX市…``) and, failing that, from jieba's place tags.
"""

from __future__ import annotations

from assistant.core.lexicon import pattern, words
from assistant.core.text import to_simplified

# The rules are data (data/corpus.toml [places]).
_PLACE = pattern("corpus", "places.leading")
_ABOUT = pattern("corpus", "places.about")
_NOT_A_PLACE_PART = pattern("corpus", "places.not_a_place_part")
_PLACE_SUFFIX = pattern("corpus", "places.place_suffix")
_GENERIC_NS = frozenset(words("corpus", "places.generic"))
_SCAN_CHARS = 20000  # places are counted in the start of a document


def most_named_place(text: str, min_count: int = 3) -> str:
    """The place a document names most often (jieba 'ns'), for documents that never state their issuer."""
    from assistant.corpus.postag import place_tagger  # jieba's tags, its unknown-word search in numpy

    counts: dict[str, int] = {}
    for w in place_tagger().cut(to_simplified(text[:_SCAN_CHARS])):
        word = w.word.strip()
        if w.flag == "ns" and len(word) >= 2 and word not in _GENERIC_NS:
            key = _PLACE_SUFFIX.sub("", word)  # 朔州市 and 朔州 are one place
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return ""
    place, n = max(counts.items(), key=lambda kv: kv[1])
    # a document about many places (a national list of city practices) has no single jurisdiction
    return place if n >= min_count and n >= 0.4 * sum(counts.values()) else ""


def guess_jurisdiction(*names: str) -> str:
    """"XX省/XX市/XX县" from the leading place names of the issuer or title; "" when none."""
    for name in names:
        name = _ABOUT.sub("", name or "")
        m = _PLACE.match(name)
        parts = [g for g in (m.group("prov"), m.group("city"), m.group("county")) if g] if m else []
        parts = [p for p in parts if not _NOT_A_PLACE_PART.search(p)]
        if parts:
            return "/".join(parts)
    return ""
