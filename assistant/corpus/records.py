"""Table records (``序号：3；…``, rebuilt by cleaning) as pieces: a row stays whole, a practice splits per city.

A row is the unit people ask about. An NDRC typical practice (a record with a 名称) is cited by its number and
name, and its paragraphs per city (``温州市：…``) become one piece each so the city is the citation's last step.
"""

from __future__ import annotations

from assistant.core.lexicon import pattern, words
from assistant.core.outline import heading_label, heading_rank
from assistant.core.schema import SECTION_SEPARATOR
from assistant.corpus.sections import Para, Piece, Sectioner

RECORD = pattern("corpus", "sections.record")
_FIELD_SEPARATOR = pattern("corpus", "sections.record_field_separator")
_FIELD_LABEL = pattern("corpus", "sections.field_label")
_CITY_PARA = pattern("corpus", "places.city_paragraph")
_CITY_SOURCE = pattern("corpus", "places.city_source")
_NAME_FIELDS = words("corpus", "sections.name_fields")
_SOURCE_FIELDS = words("corpus", "sections.source_fields")


def _record_fields(line: str) -> dict[str, str]:
    fields = {}
    for part in _FIELD_SEPARATOR.split(line):
        name, sep, value = part.partition("：")
        if not sep:
            name, sep, value = part.partition(":")
        if sep and name.strip():
            fields[name.strip()] = value.strip()
    return fields


def _practice_units(paras: list[Para], fields: dict[str, str]) -> list[tuple[int, int, str]]:
    """(start, end, city) of a practice: one unit per city paragraph, or the whole with its 来源 city."""
    cities = [i for i, p in enumerate(paras) if i and _CITY_PARA.match(p.text)]
    if cities:
        units = []
        for n, i in enumerate(cities):
            s = paras[0].start if n == 0 else paras[i].start
            e = paras[-1].end if n == len(cities) - 1 else paras[cities[n + 1] - 1].end
            units.append((s, e, _CITY_PARA.match(paras[i].text).group(1)))
        return units
    source = next((fields[k] for k in _SOURCE_FIELDS if fields.get(k)), "")
    if not source:
        src_line = next((p.text for p in paras if p.text.startswith(_SOURCE_FIELDS)), "")
        source = _FIELD_LABEL.sub("", src_line).strip()
    single = source if _CITY_SOURCE.fullmatch(source) else ""
    return [(paras[0].start, paras[-1].end, single)]


def record_pieces(sec: Sectioner, paras: list[Para]) -> None:
    """A table record: practices split per city paragraph, other rows kept as one (split if long)."""
    fields = _record_fields(paras[0].text)
    number = int(RECORD.match(paras[0].text).group(1))
    name = next((fields[k] for k in _NAME_FIELDS if fields.get(k)), "")
    sec.flush()
    if name:
        section = f"{sec.section()}{SECTION_SEPARATOR}典型做法 第{number}项 {name}"
        if not sec.stack and not sec.root:
            section = f"典型做法 第{number}项 {name}"
        for s, e, city in _practice_units(paras, fields):
            for ps, pe in sec.split(s, e):
                sec.pieces.append(Piece(ps, pe, section, "practice", city, number))
        return
    heads = [v for k, v in fields.items() if heading_rank(v) in (1, 2)]
    top = [h for h in heads if heading_rank(h) == 1]
    key = next((h for h in heads if heading_rank(h) == 2), "")
    parts = [sec.section()] + top[:1] + [f"序号{number} {heading_label(key)}".strip()]
    section = SECTION_SEPARATOR.join(parts)
    for s, e in sec.split(paras[0].start, paras[-1].end):
        sec.pieces.append(Piece(s, e, section, "table_row"))
