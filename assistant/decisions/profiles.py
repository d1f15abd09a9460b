"""Enterprise profiles for the eligibility check ("政策找人"): one firm's facts, from a form, a TOML file or a sentence.

This module holds :class:`Profile`, :class:`ProfileError` and the reading of a profile (``from_dict`` /
``from_toml`` / ``from_text`` and field validation); the words it uses come from ``vocabulary``, and the
check of a profile against measures is ``matching``'s job.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.core.numbers import canonical_values
from assistant.core.text import search_form
from assistant.decisions.vocabulary import profile_terms, scan_terms, vocabulary
from assistant.settings import get_settings

__all__ = ["Profile", "ProfileError", "canonical_name", "check_description", "field_label"]


class ProfileError(ValueError):
    """A profile that cannot be read; the message is Chinese and names the field."""


# --------------------------------------------------------------------------------------------------------
# Profile
# --------------------------------------------------------------------------------------------------------

_FIELD_LABELS = {
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
    return _FIELD_LABELS.get(name, name)


@dataclass
class Profile:
    """What a user says about one enterprise; empty / None = not stated (never guessed).

    A profile states only what the user said. Every field the user left out stays empty, so the matcher can
    mark a condition "unknown" instead of guessing; a qualification the firm explicitly lacks is written "非X"
    ("非高新技术企业"), which is what makes such a condition "not met". The words (qualifications, plans,
    industries, size classes, the 2011 SME standard) live in ``data/eligibility.toml``; nothing here is keyed
    to particular documents.
    """

    location: str = ""  # city or county as the user writes it: "乐清", "乐清市", "温州市鹿城区"
    industry: str = ""  # free text: "制造业", "软件和信息技术服务业", "外贸", "餐饮"
    employees: int | None = None
    revenue: float | None = None  # annual revenue in 万元 (10k CNY)
    age_years: float | None = None  # years since registration
    tax_credit: str = ""  # 纳税信用等级: "A" | "B" | "M" | "C" | "D" | ""
    qualifications: list[str] = field(default_factory=list)  # canonical names; "非X" = explicitly not X
    plans: list[str] = field(default_factory=list)  # canonical names: 上市, 技改, 数字化改造, 出口 ...
    ownership: str = ""  # 民营 | 国有 | 外资 | ""
    # True: ``qualifications`` lists every qualification the firm holds, so one it does not list (nor imply)
    # is "not met" instead of "unknown". False (the default, and what from_text gives): the list may be partial.
    qualifications_complete: bool = False

    def __post_init__(self) -> None:
        self.location = _text_field("location", self.location)
        self.industry = _text_field("industry", self.industry)
        self.employees = _number_field("employees", self.employees, integer=True)
        self.revenue = _number_field("revenue", self.revenue)
        self.age_years = _number_field("age_years", self.age_years)
        self.tax_credit = _tax_grade(self.tax_credit)
        self.ownership = _ownership(self.ownership)
        self.qualifications = _names("qualifications", self.qualifications, "qualification")
        self.plans = _names("plans", self.plans, "plan")
        self.qualifications_complete = _bool_field("qualifications_complete", self.qualifications_complete)

    # -- constructors ------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Any) -> Profile:
        """Fields by English or Chinese name (see ``field_aliases`` in the TOML); unknown names are errors."""
        if isinstance(data, Profile):
            return data
        if not isinstance(data, dict):
            raise ProfileError(f"企业画像必须是键值表（dict），收到的是 {type(data).__name__}。")
        aliases = vocabulary().field_aliases
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            name = aliases.get(str(key).strip())
            if name is None:
                known = "、".join(_FIELD_LABELS)
                raise ProfileError(f"未知字段“{key}”。可用字段：{known}。")
            if name in kwargs:
                raise ProfileError(f"字段 {field_label(name)} 重复出现。")
            kwargs[name] = value
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, path: str | Path) -> Profile:
        """A TOML file with the fields at top level or in a [profile] / [企业] table."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ProfileError(f"找不到企业画像文件：{path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ProfileError(f"无法读取企业画像文件 {path}：{exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"企业画像文件 {path} 不是有效的 TOML：{exc}") from None
        for table in ("profile", "企业", "企业画像"):
            if set(data) == {table} and isinstance(data[table], dict):
                data = data[table]
        return cls.from_dict(data)

    @classmethod
    def from_text(
        cls, sentence: Any, *, places: list[str] | None = None, max_chars: int | None = None
    ) -> Profile:
        """Rules over one Chinese sentence: place, industry, 人/万元/亿元/年 numbers, grade, qualifications, plans.

        ``places``: place names the caller knows (e.g. the corpus gazetteer's hits in the sentence); they
        win over the place words found by jieba. ``max_chars``: the longest description read
        (``Settings.max_profile_chars`` when None); a longer one is refused before any rule runs, so one
        request cannot keep the server busy.
        """
        text = search_form(check_description(sentence, max_chars)).strip()
        if not text:
            raise ProfileError("企业描述为空：请用一句话说明企业所在地、行业、人数、营收、资质或计划。")
        found = _read_sentence(text, places)
        if not found:
            raise ProfileError(
                "未能从描述中识别出企业信息。请说明所在地、行业、员工人数、年营收（万元）、成立年限、"
                "纳税信用等级、资质（如专精特新、高新技术企业）或计划（如上市、技改）。"
            )
        return cls(**found)

    # -- views ---------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def is_empty(self) -> bool:
        return self == Profile()

    def describe(self) -> str:
        """One Chinese line: 乐清 · 制造业 · 120人 · 年营收5000万元 · 成立3年 · 纳税信用A级 · 专精特新 · 计划：上市."""
        parts = [self.location, self.industry]
        if self.employees is not None:
            parts.append(f"{self.employees}人")
        if self.revenue is not None:
            parts.append(f"年营收{_fmt(self.revenue)}万元")
        if self.age_years is not None:
            parts.append(f"成立{_fmt(self.age_years)}年")
        if self.tax_credit:
            parts.append(f"纳税信用{self.tax_credit}级")
        parts.append({"民营": "民营企业", "国有": "国有企业", "外资": "外资企业"}.get(self.ownership, ""))
        parts.extend(self.qualifications)
        if self.qualifications_complete:
            parts.append("资质已列全" if self.qualifications else "无资质认定")
        if self.plans:
            parts.append("计划：" + "、".join(self.plans))
        return " · ".join(p for p in parts if p) or "（未填写）"

    def facts(self) -> set[str]:
        """Qualifications (with implications) and "plan:X" entries, for the conditions' ``met_when``."""
        v = vocabulary()
        facts = set(self.qualifications)
        changed = True
        while changed:
            changed = False
            for q in v.qualifications.values():
                if q.name not in facts and any(i in facts for i in q.implied_by):
                    facts.add(q.name)
                    changed = True
        return facts | {f"plan:{p}" for p in self.plans}

    def sector(self) -> str:
        """The 2011 SME-standard sector of the stated industry; the default (工业) when none is recognised."""
        return _sector_of(self.industry)

    def industry_groups(self) -> list[str]:
        """Industry groups the stated industry names (most specific words first); when it names none, the
        group of the SME-standard sector its words name ("零售" -> 批发零售)."""
        return list(_industry_groups_of(self.industry))

    def size_range(self) -> tuple[int, int]:
        """Lowest and highest class index (into ``SIZE_CLASSES``) the stated figures allow.

        The class is the highest level whose thresholds the firm reaches on every dimension of its sector;
        an unstated dimension can be anything, so it widens the range.
        """
        sector = vocabulary().sectors[self.sector()]
        emp, rev = self.employees, self.revenue

        def level(e: float, r: float) -> int:
            k = 0
            for i, need in enumerate(sector.levels, start=1):
                if e >= need.get("employees", 0) and r >= need.get("revenue", 0):
                    k = i
            return k

        lo = level(emp if emp is not None else 0, rev if rev is not None else 0)
        hi = level(emp if emp is not None else math.inf, rev if rev is not None else math.inf)
        return lo, hi


def _fmt(value: float) -> str:
    return f"{value:g}"


@lru_cache(maxsize=256)
def _sector_of(industry: str) -> str:
    for _, _, _, entries in scan_terms(search_form(industry), profile_terms()):
        for kind, key in entries:
            if kind == "sector":
                return key
    return vocabulary().default_sector


@lru_cache(maxsize=256)
def _industry_groups_of(industry: str) -> tuple[str, ...]:
    groups: list[str] = []
    sectors: list[str] = []
    for _, _, _, entries in scan_terms(search_form(industry), profile_terms()):
        groups += [key for kind, key in entries if kind == "industry" and key not in groups]
        sectors += [key for kind, key in entries if kind == "sector"]
    if not groups:  # "零售", "眼镜", "设计服务": the group of the SME-standard sector the words name
        v = vocabulary()
        groups = [g for g in dict.fromkeys(v.sectors[k].industry for k in sectors) if g in v.industries]
    return tuple(groups)


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


# --------------------------------------------------------------------------------------------------------
# Field validation
# --------------------------------------------------------------------------------------------------------


def _text_field(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProfileError(f"{field_label(name)} 必须是文本，收到的是 {type(value).__name__}。")
    return re.sub(r"\s+", " ", value).strip()


_NUMBER_IN_TEXT = re.compile(r"^\s*+(-?\d+(?:\.\d+)?)\s*+(?:人|名|万元|万|年|个月)?\s*+$")


def _number_field(name: str, value: Any, *, integer: bool = False) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ProfileError(f"{field_label(name)} 必须是数字，收到的是 {value}。")
    if isinstance(value, str):
        m = _NUMBER_IN_TEXT.match(search_form(value))
        if not m:
            raise ProfileError(f"{field_label(name)} 必须是数字，收到的是“{value}”。")
        value = float(m.group(1))
    if not isinstance(value, int | float) or math.isnan(value) or math.isinf(value):
        raise ProfileError(f"{field_label(name)} 必须是数字，收到的是 {value!r}。")
    if value < 0:
        raise ProfileError(f"{field_label(name)} 不能为负数：{value:g}。")
    if integer:
        if value != int(value):
            raise ProfileError(f"{field_label(name)} 必须是整数，收到的是 {value:g}。")
        return int(value)
    return float(value)


_TRUE_WORDS = ("true", "yes", "是", "对", "完整", "已列全", "1")
_FALSE_WORDS = ("false", "no", "否", "不", "不完整", "0", "")


def _bool_field(name: str, value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS + _FALSE_WORDS:
        return value.strip().lower() in _TRUE_WORDS
    raise ProfileError(f"{field_label(name)} 必须是 true 或 false，收到的是 {value!r}。")


def _tax_grade(value: Any) -> str:
    text = _text_field("tax_credit", value)
    grade = search_form(text).upper().replace("级", "").replace("纳税信用", "").strip()
    grades = vocabulary().tax_grades
    if grade and grade not in grades:
        raise ProfileError(f"{field_label('tax_credit')} 只能是 {'、'.join(grades)} 之一，收到的是“{text}”。")
    return grade


def _ownership(value: Any) -> str:
    text = _text_field("ownership", value)
    if not text:
        return ""
    key = search_form(text)
    for name, words in vocabulary().ownership.items():
        if key == name or key in words:
            return name
    known = "、".join(vocabulary().ownership)
    raise ProfileError(f"{field_label('ownership')} 只能是 {known} 之一，收到的是“{text}”。")


def _names(name: str, value: Any, kind: str) -> list[str]:
    """Canonical names of a list field; a str is split at 、,， and unknown names are kept as written."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[、,，;；\s]+", value) if v]
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


# --------------------------------------------------------------------------------------------------------
# Sentence rules (Profile.from_text)
# --------------------------------------------------------------------------------------------------------

_CN_NUM = "零一二两三四五六七八九十百千万"
# A number starts only where its run starts ("(?<!...)"): a search over a long run of digits or numerals would
# otherwise retry from every position and go quadratic (issue #16). Whitespace is matched possessively
# ("\s*+") so runs of spaces between optional words cannot be split in every way.
_NUM = rf"((?<!\d)\d+(?:\.\d+)?|(?<![{_CN_NUM}])[{_CN_NUM}]+)"


def _to_number(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        values = [float(v) for v, pct in canonical_values(raw + "个") if not pct]
        return values[0] if values else None


_EMPLOYEES = (
    re.compile(
        rf"(?:员工|职工|雇员|从业人员|人数|工人)(?:人数)?\s*+(?:有|约|为|共|达|大约|将近|近|超过)?\s*+{_NUM}\s*+(?:多|余)?\s*+(?:名|人|个|位)?"
    ),
    re.compile(rf"{_NUM}\s*+(?:多|余)?\s*+(?:名|个|位)?\s*+(?:员工|职工|雇员|工人|人)(?!民|才|员|大|社|行)"),
)
_REVENUE = (
    re.compile(
        rf"(?:营收|营业收入|营业额|销售收入|销售额|主营业务收入|收入|产值|年销售)\s*+(?:大约|约|达到|达|为|是|有|超过|近|在|共|规模)?\s*+"
        rf"{_NUM}\s*+(万元|万|亿元|亿|元)"
    ),
    re.compile(
        rf"{_NUM}\s*+(万元|万|亿元|亿)\s*+(?:左右|多|以上)?\s*+(?:的)?\s*+(?:年)?(?:营收|营业收入|营业额|销售额|销售收入|产值)"
    ),
)
_AGE = re.compile(
    rf"(?:成立|注册|创办|创立|开办|经营)(?:了|已|已经|有|至今)?\s*+(?:约|近|大约)?\s*+{_NUM}\s*+(?:多|余)?\s*+(年|个月)"
)
_AGE_SINCE = re.compile(r"(?:成立|注册|创办|创立|开办)(?:于|在)\s*(\d{4})\s*年")
_AGE_NEW = re.compile(r"(?:刚|新|刚刚)(?:成立|注册|设立|创办|开办)")
_TAX = (
    re.compile(r"纳税信用(?:等级|评级|级别)?\s*(?:为|是|被评为|评为|达到|属于)?\s*([A-Za-z])\s*(?:级|类)?"),
    re.compile(r"([A-Za-z])\s*级纳税"),
)


def _read_sentence(text: str, places: list[str] | None) -> dict[str, Any]:
    """The fields a sentence (search form) states: the place (``places`` or jieba), then the rules."""
    found: dict[str, Any] = {}
    location = "".join(places or []) or _find_location(text)
    if location:
        found["location"] = location
    return found | _read_rules(text)


def _read_rules(text: str) -> dict[str, Any]:
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


def _find_employees(text: str) -> int | None:
    for pattern in _EMPLOYEES:
        for m in pattern.finditer(text):
            value = _to_number(m.group(1))
            if value is not None and value == int(value):
                return int(value)
    return None


def _find_revenue(text: str) -> float | None:
    for pattern in _REVENUE:
        m = pattern.search(text)
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
        return 0.5  # "刚成立": under a year
    return None


def _find_tax_grade(text: str) -> str | None:
    for pattern in _TAX:
        m = pattern.search(text)
        if m:
            return m.group(1).upper()  # an unknown letter fails validation with a clear message
    return None


_LOCATION_VERBS = ("位于", "地处", "来自", "坐落在", "坐落于", "注册在", "注册于", "落户", "在")
_NOT_PLACES = {"全国", "中国", "国内", "境内", "境外", "海外", "本地", "当地", "本市", "我市", "国外"}


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
        cjk = bool(re.fullmatch(r"[\u4e00-\u9fff]{2,8}", word))
        placeish = cjk and word not in vocab_words and word not in _NOT_PLACES
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
        before = text[max(0, start - 6) : start]
        clause_before = re.split(r"[，,。；;、]", before)[-1]
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
                out["industry"] = word + (
                    "业" if text[end : end + 1] == "业" and not word.endswith("业") else ""
                )
        if any(kind == "sector" for kind, _ in entries) and "industry" not in out:
            out["industry"] = word
    if quals:
        out["qualifications"] = list(dict.fromkeys(quals))
    if plans:
        out["plans"] = list(dict.fromkeys(plans))
    return out
