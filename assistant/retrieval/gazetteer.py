"""The places a question can name: the indexed documents' jurisdictions and the cities their passages speak for.

Built once per index build (``assistant.retrieval.builds.gazetteer_for``): finding the places of a question
then costs a scan per alias that the question can hold, not a sort of every alias.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product

from assistant.core.lexicon import words
from assistant.core.text import to_simplified

NATIONAL = "全国"
UNKNOWN = "未知"  # jurisdiction of a document that states none
_ADMIN_SUFFIX = words("retrieval", "places.admin_suffixes")
_PINYIN_READINGS = 2  # readings kept per syllable of a heteronym (乐: le, yue)
_PINYIN_ALIASES = 4  # romanised aliases kept per place


def short_name(place: str) -> str:
    """温州市 -> 温州, 乐清市 -> 乐清; keeps names that would become a single character."""
    for suffix in _ADMIN_SUFFIX:
        if place.endswith(suffix) and len(place) - len(suffix) >= 2:
            return place[: -len(suffix)]
    return place


def _pinyin_aliases(name: str) -> set[str]:
    from pypinyin import Style, pinyin

    syllables = pinyin(name, style=Style.NORMAL, heteronym=True)
    combos = product(*[s[:_PINYIN_READINGS] for s in syllables])
    return {"".join(c) for c in list(combos)[:_PINYIN_ALIASES]}


@dataclass(frozen=True)
class Place:
    """A place a question can name: its canonical name and the jurisdiction paths it covers."""

    name: str  # e.g. 温州市
    aliases: tuple[str, ...]  # 温州市, 温州, wenzhou


class Gazetteer:
    """Places known from the corpus: jurisdiction path components and cities named in passages."""

    def __init__(self, jurisdictions: list[str], cities: list[str]) -> None:
        names: dict[str, None] = {}
        self.parents: dict[str, list[str]] = {}
        jurisdictions = [
            to_simplified(j) for j in dict.fromkeys(jurisdictions)
        ]  # a path's repeats add nothing
        cities = [to_simplified(c) for c in cities]
        for path in jurisdictions:
            parts = [p for p in path.split("/") if p and p not in (NATIONAL, UNKNOWN)]
            for i, part in enumerate(parts):
                names.setdefault(part)
                self.parents.setdefault(part, parts[:i])
        for city in cities:
            if city:
                names.setdefault(city)
                self.parents.setdefault(city, [])
        self.places: list[Place] = []
        for name in names:
            aliases = {name, short_name(name)}
            aliases |= _pinyin_aliases(short_name(name))
            self.places.append(Place(name, tuple(sorted(aliases, key=len, reverse=True))))
        # longest alias first (stable: places in order of appearance); one-character aliases never match
        self._candidates = [
            (alias, name, alias.isascii())
            for alias, name in sorted(
                ((a, p.name) for p in self.places for a in p.aliases), key=lambda a: -len(a[0])
            )
            if len(alias) >= 2
        ]
        self.known: frozenset[str] = frozenset(
            {a for p in self.places for a in p.aliases} | {p.name for p in self.places}
        )
        self.known_words = tuple(k for k in self.known if len(k) >= 2)  # contained in a longer place word
        self.chinese_aliases = [a for p in self.places for a in p.aliases if not a.isascii()]

    def find(self, question: str) -> list[str]:
        """Places named in the question, in order of appearance, longest alias winning."""
        text = question
        lower = question.lower()
        hits: list[tuple[int, str]] = []
        taken: list[tuple[int, int]] = []
        for alias, name, latin in self._candidates:
            hay = lower if latin else text
            if alias not in hay:
                continue
            for m in re.finditer(re.escape(alias), hay):
                s, e = m.span()
                if latin and ((s > 0 and hay[s - 1].isalpha()) or (e < len(hay) and hay[e].isalpha())):
                    continue
                if any(s < te and ts < e for ts, te in taken):
                    continue
                taken.append((s, e))
                hits.append((s, name))
        seen: dict[str, None] = {}
        for _, name in sorted(hits):
            seen.setdefault(name)
        return list(seen)
