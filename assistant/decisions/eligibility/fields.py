"""The fields of an enterprise profile: their Chinese labels, and how a value given for each is read.

A profile comes from a form, a TOML file, an API call or a sentence, so a value may be a number or the text
"120人", a list or "规上、专精特新". Each reader here returns the field's canonical value or raises
:class:`ProfileError` with a Chinese message that names the field; :class:`~.profile.Profile` runs them as
its pydantic validators.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from assistant.core.lexicon import pattern, words
from assistant.core.text import search_form
from assistant.decisions.eligibility.vocabulary import profile_terms, scan_terms, vocabulary

__all__ = ["FIELD_LABELS", "READERS", "ProfileError", "canonical_name", "field_label"]


class ProfileError(ValueError):
    """A profile that cannot be read; the message is Chinese and names the field."""


FIELD_LABELS = {
    "location": "所在地（location）",
    "industry": "行业（industry）",
    "employees": "员工人数（employees）",
    "revenue": "年营业收入（revenue，万元）",
    "age_years": "成立年限（age_years，年）",
    "tax_credit": "纳税信用等级（tax_credit）",
    "qualifications": "资质（qualifications）",
    "plans": "计划（plans）",
    "ownership": "所有制（ownership）",
    "qualifications_complete": "资质已列全（qualifications_complete）",
}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


def read_text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProfileError(f"{field_label(name)} 必须是文本，收到的是 {type(value).__name__}。")
    return re.sub(r"\s+", " ", value).strip()


_FIELD_NUMBER = pattern("eligibility", "figures.profile.field")


def _number(name: str, value: Any) -> int | float | None:
    """A non-negative number, from a number or a text such as "120人" / "5000万元"; "" / None = not stated."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ProfileError(f"{field_label(name)} 必须是数字，收到的是 {value}。")
    if isinstance(value, str):
        m = _FIELD_NUMBER.match(search_form(value))
        if not m:
            raise ProfileError(f"{field_label(name)} 必须是数字，收到的是“{value}”。")
        value = float(m.group(1))
    if not isinstance(value, int | float) or math.isnan(value) or math.isinf(value):
        raise ProfileError(f"{field_label(name)} 必须是数字，收到的是 {value!r}。")
    if value < 0:
        raise ProfileError(f"{field_label(name)} 不能为负数：{value:g}。")
    return value


def read_number(name: str, value: Any) -> float | None:
    number = _number(name, value)
    return None if number is None else float(number)


def read_integer(name: str, value: Any) -> int | None:
    number = _number(name, value)
    if number is None:
        return None
    if number != int(number):
        raise ProfileError(f"{field_label(name)} 必须是整数，收到的是 {number:g}。")
    return int(number)


_TRUE = words("eligibility", "profile_words.true_words")
_FALSE = words("eligibility", "profile_words.false_words")


def read_bool(name: str, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise ProfileError(f"{field_label(name)} 必须是 true 或 false，收到的是 {value!r}。")


def read_tax_grade(name: str, value: Any) -> str:
    text = read_text(name, value)
    grade = search_form(text).upper().replace("级", "").replace("纳税信用", "").strip()
    grades = vocabulary().tax_grades
    if grade and grade not in grades:
        raise ProfileError(f"{field_label(name)} 只能是 {'、'.join(grades)} 之一，收到的是“{text}”。")
    return grade


def read_ownership(name: str, value: Any) -> str:
    text = read_text(name, value)
    if not text:
        return ""
    key = search_form(text)
    for canon, names in vocabulary().ownership.items():
        if key == canon or key in names:
            return canon
    known = "、".join(vocabulary().ownership)
    raise ProfileError(f"{field_label(name)} 只能是 {known} 之一，收到的是“{text}”。")


_LIST_SEPARATORS = pattern("eligibility", "profile_words.list_separators")


def _read_names(name: str, value: Any, kind: str) -> list[str]:
    """Canonical names of a list field; a str is split at 、,， and unknown names are kept as written."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in _LIST_SEPARATORS.split(value) if v]
    if not isinstance(value, list | tuple | set):
        raise ProfileError(f"{field_label(name)} 必须是文本列表，收到的是 {type(value).__name__}。")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise ProfileError(f"{field_label(name)} 的每一项必须是文本，收到的是 {item!r}。")
        canon = canonical_name(item, kind)
        if canon and canon not in out:
            out.append(canon)
    return out


def canonical_name(item: str, kind: str) -> str:
    """The vocabulary's name for a qualification / plan as a user wrote it; "非X" for an explicit negation."""
    text = search_form(item).strip()
    if not text:
        return ""
    negated = ""
    for neg in sorted(vocabulary().negations, key=len, reverse=True):
        if text.startswith(neg) and len(text) > len(neg):
            negated, text = "非", text[len(neg) :].lstrip("是为")
            break
    hits = [key for _, _, _, entries in scan_terms(text, profile_terms()) for k, key in entries if k == kind]
    canon = hits[0] if len(set(hits)) == 1 else text
    if kind == "qualification" and canon.startswith("非") and canon[1:] in vocabulary().qualifications:
        return canon
    return negated + canon


# Field -> reader, in the order a profile's fields are checked (the first failing one is reported).
READERS: dict[str, Callable[[str, Any], Any]] = {
    "location": read_text,
    "industry": read_text,
    "employees": read_integer,
    "revenue": read_number,
    "age_years": read_number,
    "tax_credit": read_tax_grade,
    "ownership": read_ownership,
    "qualifications": lambda name, value: _read_names(name, value, "qualification"),
    "plans": lambda name, value: _read_names(name, value, "plan"),
    "qualifications_complete": read_bool,
}
