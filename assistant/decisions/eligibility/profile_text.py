"""Reading a free-text description of an enterprise ("乐清的一家制造业企业，120人，年营收5000万元，专精特新").

The place comes from the caller's gazetteer hits or from jieba's place words; figures, the tax grade and the
vocabulary's words (qualifications, plans, ownership, industry) from the rules of ``data/eligibility.toml``.
The result is a dict of profile fields, validated by :class:`~.profile.Profile`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from assistant.core.lexicon import pattern, table, words
from assistant.core.numbers import canonical_values
from assistant.core.text import search_form
from assistant.decisions.eligibility.fields import ProfileError
from assistant.decisions.eligibility.vocabulary import profile_terms, scan_terms, vocabulary
from assistant.settings import get_settings

__all__ = ["check_description", "read_description", "read_rules"]

_FIGURES = table("eligibility")["figures"]["profile"]
_NUMBER = _FIGURES["number"]  # "{number}" in a figure pattern: a number as a profile writes it
_EMPLOYEES = tuple(re.compile(p.replace("{number}", _NUMBER)) for p in _FIGURES["employees"])
_REVENUE = tuple(re.compile(p.replace("{number}", _NUMBER)) for p in _FIGURES["revenue"])
_AGE = re.compile(_FIGURES["age"].replace("{number}", _NUMBER))
_AGE_SINCE = pattern("eligibility", "figures.profile.age_since")
_AGE_NEW = pattern("eligibility", "figures.profile.age_new")
_NEW_AGE = float(_FIGURES["new_age"])
_TAX = tuple(re.compile(p) for p in _FIGURES["tax"])
_LOCATION_VERBS = words("eligibility", "profile_words.location_verbs")
_NOT_PLACES = frozenset(words("eligibility", "profile_words.not_places"))
_PLACE_WORD = pattern("eligibility", "profile_words.place_word")
_CLAUSE_BREAK = re.compile(r"[，,。；;、]")


def check_description(sentence: Any, max_chars: int | None = None) -> str:
    """A profile sentence as given; refused when it is not text or longer than ``max_chars``
    (``Settings.max_profile_chars`` when None). Callers that read the sentence before ``from_text`` (the
    gazetteer) check it first, so an oversized request costs nothing."""
    if not isinstance(sentence, str):
        raise ProfileError(f"企业描述必须是文本，收到的是 {type(sentence).__name__}。")
    limit = get_settings().max_profile_chars if max_chars is None else max_chars
    if len(sentence) > limit:
        raise ProfileError(f"企业描述过长（{len(sentence)} 个字符），请控制在 {limit} 个字符以内。")
    return sentence


def read_description(sentence: Any, places: list[str] | None, max_chars: int | None) -> dict[str, Any]:
    """The profile fields one sentence states (``Profile.from_text``); refused when it states none."""
    text = search_form(check_description(sentence, max_chars)).strip()
    if not text:
        raise ProfileError("企业描述为空：请用一句话说明企业所在地、行业、人数、营收、资质或计划。")
    found: dict[str, Any] = {}
    location = "".join(places or []) or _find_location(text)
    if location:
        found["location"] = location
    found |= read_rules(text)
    if not found:
        raise ProfileError(
            "未能从描述中识别出企业信息。请说明所在地、行业、员工人数、年营收（万元）、成立年限、"
            "纳税信用等级、资质（如专精特新、高新技术企业）或计划（如上市、技改）。"
        )
    return found


def read_rules(text: str) -> dict[str, Any]:
    """Numbers, tax grade and vocabulary words of a sentence. No length cap applies here, so every rule must
    stay linear in the text (tests/test_patterns.py, tests/test_profiles.py)."""
    found: dict[str, Any] = {}
    for name, finder in (
        ("employees", _find_employees),
        ("revenue", _find_revenue),
        ("age_years", _find_age),
        ("tax_credit", _find_tax_grade),
    ):
        value = finder(text)
        if value is not None:
            found[name] = value
    found.update(_find_terms(text))
    return found


def _to_number(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        values = [float(v) for v, pct in canonical_values(raw + "个") if not pct]
        return values[0] if values else None


def _find_employees(text: str) -> int | None:
    for regex in _EMPLOYEES:
        for m in regex.finditer(text):
            value = _to_number(m.group(1))
            if value is not None and value == int(value):
                return int(value)
    return None


def _find_revenue(text: str) -> float | None:
    for regex in _REVENUE:
        m = regex.search(text)
        if m:
            value = _to_number(m.group(1))
            if value is not None:
                unit = m.group(2)
                scale = 10000 if unit.startswith("亿") else 0.0001 if unit == "元" else 1
                return value * scale
    return None


def _find_age(text: str) -> float | None:
    m = _AGE.search(text)
    if m:
        value = _to_number(m.group(1))
        if value is not None:
            return value / 12 if m.group(2) == "个月" else value
    m = _AGE_SINCE.search(text)
    if m:
        return float(max(0, date.today().year - int(m.group(1))))
    if _AGE_NEW.search(text):
        return _NEW_AGE  # "刚成立": under a year
    return None


def _find_tax_grade(text: str) -> str | None:
    for regex in _TAX:
        m = regex.search(text)
        if m:
            return m.group(1).upper()  # an unknown letter fails validation with a clear message
    return None


def _find_location(text: str) -> str:
    """Place words by jieba (ns), or a short name introduced by 位于/来自/在 or followed by 的一家/一家."""
    from assistant.retrieval.plan import pos_tags

    vocab_words = set(profile_terms())
    tags = pos_tags(text)
    run: list[str] = []
    best = ""
    for i, (word, flag) in enumerate(tags):
        before = tags[i - 1][0] if i else ""
        after = "".join(w for w, _ in tags[i + 1 : i + 3])
        placeish = bool(_PLACE_WORD.fullmatch(word)) and word not in vocab_words and word not in _NOT_PLACES
        named = flag.startswith("ns") or (
            flag in ("nr", "nz", "x", "n")
            and (before in _LOCATION_VERBS or after.startswith(("的一家", "一家")))
        )
        if placeish and named and len(word) <= 8:
            run.append(word)
            continue
        if run and not best:
            best = "".join(run)
        run = []
    return best or "".join(run)


def _find_terms(text: str) -> dict[str, Any]:
    """Qualifications, plans, ownership and industry words of a profile sentence, with negations and plans."""
    v = vocabulary()
    quals: list[str] = []
    plans: list[str] = []
    out: dict[str, Any] = {}
    for start, end, word, entries in scan_terms(text, profile_terms()):
        clause_before = _CLAUSE_BREAK.split(text[max(0, start - 6) : start])[-1]
        negated = any(clause_before.endswith(n) or clause_before.endswith(n + "是") for n in v.negations)
        planned = any(verb in clause_before for verb in v.plan_verbs)
        for kind, key in entries:
            if kind == "qualification":
                spec = v.qualifications[key]
                if planned and spec.as_plan:
                    plans.append(spec.as_plan)
                else:
                    quals.append(("非" if negated else "") + key)
            elif kind == "plan" and not negated:
                plans.append(key)
            elif kind == "ownership":
                out.setdefault("ownership", key)
            elif kind == "industry" and "industry" not in out:
                out["industry"] = word + ("业" if text[end : end + 1] == "业" and not word.endswith("业") else "")
        if any(kind == "sector" for kind, _ in entries) and "industry" not in out:
            out["industry"] = word
    if quals:
        out["qualifications"] = list(dict.fromkeys(quals))
    if plans:
        out["plans"] = list(dict.fromkeys(plans))
    return out
