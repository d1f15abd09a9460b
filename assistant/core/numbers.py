"""The number check: every number an answer states must occur in a passage it cites.

Numbers are compared on a canonical value, not on their spelling, so "10万元", "十万元" and
"100000元" are the same claim and "百分之五十" is "50%". A wrong amount is the most harmful
mistake a policy answer can make, so both answerers drop sentences whose numbers fail this check.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from assistant.core.lexicon import words
from assistant.core.outline import SENTENCE_MARKER
from assistant.core.text import to_halfwidth, to_simplified

__all__ = ["canonical_values", "extract_numbers", "unsupported_numbers"]

_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
    "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8, "玖": 9,
}  # fmt: skip
_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG = {"万": 10**4, "亿": 10**8}
_CN = "".join(_DIGITS) + "".join(_SMALL) + "".join(_BIG)

# A Chinese numeral only counts as a number before one of the units (so 一些, 统一, 十分 are words); after a
# bare 一 only the time units do (other units after 一 are mostly an article: "一项政策"). data/text.toml.
_UNITS = "|".join(words("text", "numbers.units"))
_TIME_UNITS = words("text", "numbers.time_units")
_IDIOMS = words("text", "numbers.idioms")

_MARKER = re.compile(r"[\[［【]\s*\d+(?:\s*[-,，、;；]\s*\d+)*\s*[\]］】]")
_ARABIC = r"\d+(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MULT = r"[百千]?(?:万亿|万|亿)|[百千](?=[元人家个户])"
_CN_RUN = rf"[{_CN}][{_CN}点]*"
# Where a Chinese numeral may start: at the start of its run of numerals, or after up to four 百千万亿点 that
# open the run (the 万 of "5万一年" belongs to the number before). A start deeper in a run never matches, and
# trying each one made a search over a long run quadratic (tests/test_patterns.py).
_RUN_START = f"(?<![{_CN}点])"
_CN_START = "(?:" + "|".join([_RUN_START, *(f"(?<={_RUN_START}[百千万亿点]{{{n}}})" for n in range(1, 5))]) + ")"
_NUMBER = re.compile(
    rf"(?P<date>\d{{4}}[-./]\d{{1,2}}(?:[-./]\d{{1,2}})?(?!\d))"
    rf"|百分之(?P<pct_ar>{_ARABIC})|百分之(?P<pct_cn>{_CN_RUN})"
    rf"|(?P<ar>{_ARABIC})\s*(?P<mult>{_MULT})?\s*(?P<pct>%)?"
    rf"|(?P<cn>{_CN_START}{_CN_RUN})(?:(?=(?:余|多)?(?P<unit>{_UNITS}))|(?<=[万亿]))"
)
_UNIT_AFTER = re.compile(rf"(?:(?<!\s)\s++)?(?:余|多)?(?:{_UNITS})")  # spaces taken from where their run starts

Canon = tuple[str, bool]  # (normalised decimal string, is a percentage)


def _normalise(text: str) -> str:
    return to_simplified(to_halfwidth(text)).replace("％", "%")


def _decimal_str(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _cn_integer(run: str) -> int:
    """Value of a Chinese integer numeral: 两千 -> 2000, 一亿五千万 -> 150000000, 二〇二三 -> 2023."""
    if len(run) > 1 and all(ch in _DIGITS for ch in run):
        return int("".join(str(_DIGITS[ch]) for ch in run))  # positional: 二〇二三年
    total = section = digit = 0
    for ch in run:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch in _SMALL:
            section += (digit or 1) * _SMALL[ch]
            digit = 0
        elif ch == "万":
            total += (section + digit) * _BIG[ch]
            section = digit = 0
        elif ch == "亿":
            total = (total + section + digit) * _BIG[ch]
            section = digit = 0
    return total + section + digit


def _cn_value(run: str) -> Decimal:
    if "点" not in run:
        return Decimal(_cn_integer(run))
    whole, _, rest = run.partition("点")
    frac = "".join(str(_DIGITS[ch]) for ch in rest if ch in _DIGITS)
    mult = 1
    for ch in rest:
        mult *= _BIG.get(ch, 1) * (_SMALL.get(ch, 1) if ch in "百千" else 1)
    return (Decimal(_cn_integer(whole) if whole else 0) + Decimal(f"0.{frac or 0}")) * mult


def _mult_value(mult: str | None) -> int:
    value = 1
    for ch in mult or "":
        value *= _BIG.get(ch) or _SMALL.get(ch, 1)
    return value


def _skip_cn(text: str, match: re.Match[str], strict: bool) -> bool:
    """Chinese numerals that are words, ordinals or an article rather than a quantity."""
    run, start = match.group("cn"), match.start()
    if run[0] not in _DIGITS and run[0] not in "十拾":
        return True  # 万一, 百姓, 千方百计
    if any(text.startswith(idiom, start) for idiom in _IDIOMS):
        return True
    unit = match.group("unit") or ""
    after = match.end() + len(unit)
    if run == "一" and text[after : after + 1] == "一":
        return True  # 一户一策, 一企一档, 一年一度
    if not strict:
        return False
    if start > 0 and text[start - 1] == "第":
        return True  # 第一批, 第三条
    return run == "一" and unit not in _TIME_UNITS


def _scan(text: str, strict: bool) -> list[tuple[str, Canon]]:
    """(surface, canonical value) of every number in already normalised text."""
    found: list[tuple[str, Canon]] = []
    for m in _NUMBER.finditer(text):
        if m.group("date"):
            for part in re.split(r"[-./]", m.group("date")):
                found.append((part, (_decimal_str(Decimal(part)), False)))
            continue
        if strict and m.group("ar") and m.start() > 0 and text[m.start() - 1] == "第":
            continue
        try:
            if m.group("pct_ar") or m.group("pct_cn"):
                raw = m.group("pct_ar")
                value = Decimal(raw.replace(",", "")) if raw else _cn_value(m.group("pct_cn"))
                found.append((m.group(0), (_decimal_str(value), True)))
            elif m.group("ar"):
                value = Decimal(m.group("ar").replace(",", "")) * _mult_value(m.group("mult"))
                surface = m.group(0).rstrip()
                unit = _UNIT_AFTER.match(text, m.end()) if not m.group("pct") else None
                if unit:
                    surface += unit.group(0).strip()
                found.append((surface, (_decimal_str(value), bool(m.group("pct")))))
            elif m.group("cn") and not _skip_cn(text, m, strict):
                unit = _UNIT_AFTER.match(text, m.end())
                surface = m.group("cn") + (unit.group(0).strip() if unit else "")
                found.append((surface, (_decimal_str(_cn_value(m.group("cn"))), m.group("unit") == "%")))
        except (InvalidOperation, ValueError, KeyError):
            continue
    return found


def _claim_text(sentence: str) -> str:
    """The sentence without citation markers and a leading heading marker such as （一） or 1."""
    return SENTENCE_MARKER.sub("", _MARKER.sub(" ", _normalise(sentence)), count=1)


def extract_numbers(text: str) -> list[str]:
    """Surface forms of the numbers a sentence states ("10万元", "50%", "两年", "2025年")."""
    return [surface for surface, _ in _scan(_claim_text(text), strict=True)]


@lru_cache(maxsize=2048)
def canonical_values(source: str) -> frozenset[Canon]:
    """Every canonical number in a source text (lenient: ordinals and 一 count too)."""
    return frozenset(value for _, value in _scan(_normalise(source), strict=False))


def unsupported_numbers(sentence: str, sources: list[str]) -> list[str]:
    """Numbers of ``sentence`` whose value occurs in none of ``sources``, as written, deduplicated."""
    known: set[Canon] = set()
    for source in sources:
        known |= canonical_values(source)
    missing: list[str] = []
    for surface, value in _scan(_claim_text(sentence), strict=True):
        if value not in known and surface not in missing:
            missing.append(surface)
    return missing
