"""Documents a question names: by 文号, by full or quoted title, or by a distinctive abbreviation of the title.

Every document's normalised title, 文号 key and title core (the title without its place names) is computed
once per index build into lookup tables (``DocumentNames``), so a question costs lookups over its own
characters instead of normalising every title of the corpus (issue #15: 43 ms at 150 documents, 96 ms at
1,445). The answers are those of a scan over every document, in document order.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import accumulate

from assistant.core.lexicon import words
from assistant.core.text import DOC_NUMBER_PARTS, doc_number_key, search_form
from assistant.settings import get_settings

_DOC_KIND = re.compile("|".join(re.escape(w) for w in words("retrieval", "documents.kinds")))
_KIND_WINDOW = 6  # characters after an abbreviation in which a document word still names the document
# 《…》 read from the first 《 of its 》-delimited stretch: linear on a long run of 《 (tests/test_patterns.py).
_QUOTED_TITLE = re.compile(r"(?:^|(?<=》))[^》《]*+《([^》]{4,})》")
_SHORT_NUMBER = re.compile(r"(?<!\d)(\d{1,4})号(?:文|文件)")

Document = tuple[str, str, str]  # (doc_id, title, doc_number)
_SEPARATOR = "\x00"


def _grams(text: str, n: int) -> set[str]:
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def _index(texts: Iterable[str], n: int) -> dict[str, list[int]]:
    """n-gram -> positions of the texts holding it, in order."""
    found: dict[str, list[int]] = defaultdict(list)
    for pos, text in enumerate(texts):
        for gram in _grams(text, n):
            found[gram].append(pos)
    return dict(found)


def _title_core(title: str, ordered_places: Sequence[str], by_first: dict[str, list[int]]) -> str:
    """The title (in search form) without its place names, longest name removed first (as ``str.replace``
    in that order).

    Removing text never adds a character, so a name whose first character is not in the title can never
    occur: only the others are tried, in the same order.
    """
    core = title
    tried = sorted({i for ch in set(core) for i in by_first.get(ch, ())})
    for i in tried:
        core = core.replace(ordered_places[i], "")
    return core


def _longest_common(a: str, b: str, starts: Iterable[int] | None = None) -> str:
    """The longest run of ``a`` that ``b`` holds (the first one in ``a`` among equals).

    ``starts``: the positions of ``a`` (ascending) where a run that long can start, when known; the others
    are passed over (the answer is the same: the longest run starts at one of them).
    """
    best = ""
    for i in range(len(a)) if starts is None else starts:
        j = i + len(best) + 1
        while j <= len(a) and a[i:j] in b:
            best = a[i:j]
            j += 1
    return best


class DocumentNames:
    """Lookup tables of one index build's titles and 文号 (``documents``: (doc_id, title, doc_number))."""

    def __init__(self, documents: Sequence[Document], places: Sequence[str], min_chars: int) -> None:
        self.min_chars = min_chars
        self.ids = [doc_id for doc_id, _, _ in documents]
        self.titles = [search_form(title) for _, title, _ in documents]
        keys = [doc_number_key(number) if number else None for _, _, number in documents]
        self._by_number: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        self._by_serial: dict[str, list[int]] = defaultdict(list)
        for pos, key in enumerate(keys):
            if key:
                self._by_number[key[1:]].append((pos, key[0]))
                self._by_serial[key[2]].append(pos)
        # a title is found in a text by its first min_chars characters; shorter ones are checked one by one
        self._title_starts: dict[str, list[int]] = defaultdict(list)
        self._short_titles: list[int] = []
        for pos, title in enumerate(self.titles):
            if len(title) >= min_chars:
                self._title_starts[title[:min_chars]].append(pos)
            elif title:
                self._short_titles.append(pos)
        ordered = sorted(places, key=len, reverse=True)
        by_first: dict[str, list[int]] = defaultdict(list)
        for i, place in enumerate(ordered):
            if place:
                by_first[place[0]].append(i)
        # one core per doc_id (the last document's, at the first one's place), as a dict built in order
        cores = {
            d[0]: _title_core(title, ordered, by_first)
            for d, title in zip(documents, self.titles, strict=True)
        }
        self._core_ids = list(cores)
        self._cores = list(cores.values())
        self._core_grams = _index(self._cores, min_chars)
        # every title in one string: which titles hold a quoted name is one C-speed search of it
        self._joined = _SEPARATOR.join(self.titles)
        self._ends = list(accumulate(len(t) + 1 for t in self.titles))  # each title's end + 1 in _joined

    def named(self, text: str) -> list[str]:
        """Doc ids the text names by 文号, full or quoted title, or a distinctive abbreviation of a title."""
        text = search_form(text)
        named = self._by_number_named(text)
        quoted = _QUOTED_TITLE.findall(text)
        found = self._titles_in(text)
        for q in quoted:
            found |= self._titles_in(q) | self._titles_holding(q)
        for pos in sorted(found):
            if self.ids[pos] not in named:
                named.append(self.ids[pos])
        if not named:
            named = self._by_abbreviation(text)
        return named

    def _by_number_named(self, text: str) -> list[str]:
        asked = [k for m in DOC_NUMBER_PARTS.finditer(text) if (k := doc_number_key(m.group(0)))]
        found = {
            pos
            for a in asked
            for pos, prefix in self._by_number.get(a[1:], ())
            if not a[0] or prefix.endswith(a[0])
        }
        if found or asked:
            return [self.ids[pos] for pos in sorted(found)]
        serials = set(_SHORT_NUMBER.findall(text))  # "43号文": only when one document has that serial
        hits = sorted({pos for s in serials for pos in self._by_serial.get(s, ())})
        return [self.ids[hits[0]]] if len(hits) == 1 else []

    def _titles_in(self, text: str) -> set[int]:
        """Titles that occur in the text."""
        n = self.min_chars
        found = {pos for pos in self._short_titles if self.titles[pos] in text}
        for i in range(len(text) - n + 1):
            for pos in self._title_starts.get(text[i : i + n], ()):
                if text.startswith(self.titles[pos], i):
                    found.add(pos)
        return found

    def _titles_holding(self, name: str) -> set[int]:
        """Titles that hold the name: its occurrences in the joined titles that lie inside one title."""
        found: set[int] = set()
        at = self._joined.find(name) if name else -1
        while at != -1:
            pos = bisect_right(self._ends, at)  # the title whose span [end - len - 1, end - 1) holds ``at``
            if at + len(name) < self._ends[pos]:
                found.add(pos)
                at = self._joined.find(name, self._ends[pos])
            else:  # runs over the separator: look further on
                at = self._joined.find(name, at + 1)
        return found

    def _by_abbreviation(self, text: str) -> list[str]:
        """A distinctive run of a title's words followed by a document word: 友好城市实施意见, 朔州若干意见."""
        n = self.min_chars
        # a run of n characters shared with the text is a shared n-gram: only those titles are read, and
        # only from where their shared n-grams start
        starts: dict[int, list[int]] = defaultdict(list)
        for i in range(len(text) - n + 1):
            for pos in self._core_grams.get(text[i : i + n], ()):
                starts[pos].append(i)
        shared: dict[str, bool] = {}  # run -> another title's core holds it too
        named = []
        for pos in sorted(starts):
            run = _longest_common(text, self._cores[pos], starts[pos])
            if len(run) < n:
                continue
            if run not in shared:
                holders = (p for p in self._core_grams.get(run[:n], ()) if run in self._cores[p])
                shared[run] = next(holders, None) is not None and next(holders, None) is not None
            if shared[run]:  # not distinctive
                continue
            end = text.find(run) + len(run)
            if (
                _DOC_KIND.search(run)
                or _DOC_KIND.match(text, end)
                or _DOC_KIND.search(text[end : end + _KIND_WINDOW])
            ):
                named.append(self._core_ids[pos])
        return named


@lru_cache(maxsize=2)
def _names_of(documents: tuple[Document, ...], places: tuple[str, ...], min_chars: int) -> DocumentNames:
    return DocumentNames(documents, places, min_chars)


def named_documents(
    text: str, documents: Sequence[Document], places: Sequence[str] | None = None
) -> list[str]:
    """``DocumentNames(documents, places).named(text)`` for callers holding a plain list (the last two kept)."""
    min_chars = get_settings().retrieval.abbreviation_min_chars
    return _names_of(tuple(documents), tuple(places or ()), min_chars).named(text)
