"""Enterprise profiles for the eligibility check ("政策找人"): one firm's facts, from a form, a TOML file or a sentence.

:class:`Profile` is a pydantic model whose validators are the field readers of ``fields`` (Chinese messages
that name the field); a sentence is read by ``profile_text``. The check of a profile against measures is
``checks``' and ``matching``'s job.
"""

from __future__ import annotations

import math
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from assistant.core.text import search_form
from assistant.decisions.eligibility.fields import FIELD_LABELS, READERS, ProfileError, field_label
from assistant.decisions.eligibility.profile_text import read_description
from assistant.decisions.eligibility.vocabulary import profile_terms, scan_terms, vocabulary

__all__ = ["Profile", "ProfileError"]

_OWNERSHIP_SHOWN = {"民营": "民营企业", "国有": "国有企业", "外资": "外资企业"}


def _profile_error(exc: ValidationError) -> Exception:
    """The reader's own error for the first field (in ``READERS`` order) that failed."""
    errors = exc.errors()
    extra = [e for e in errors if e["type"] == "extra_forbidden"]
    if extra:  # as a dataclass would say it: a programming error, not a user's
        return TypeError(f"Profile.__init__() got an unexpected keyword argument '{extra[0]['loc'][0]}'")
    order = list(READERS)
    first = min(errors, key=lambda e: order.index(str(e["loc"][0])) if e["loc"] else -1)
    error = first.get("ctx", {}).get("error")
    return error if isinstance(error, ProfileError) else ProfileError(f"{field_label(str(first['loc'][0]))}：{first['msg']}")


class Profile(BaseModel):
    """What a user says about one enterprise; empty / None = not stated (never guessed).

    A profile states only what the user said. Every field the user left out stays empty, so the matcher can
    mark a condition "unknown" instead of guessing; a qualification the firm explicitly lacks is written "非X"
    ("非高新技术企业"), which is what makes such a condition "not met". The words (qualifications, plans,
    industries, size classes, the 2011 SME standard) live in ``data/eligibility.toml``; nothing here is keyed
    to particular documents.
    """

    model_config = ConfigDict(extra="forbid")

    location: str = ""  # city or county as the user writes it: "乐清", "乐清市", "温州市鹿城区"
    industry: str = ""  # free text: "制造业", "软件和信息技术服务业", "外贸", "餐饮"
    employees: int | None = None
    revenue: float | None = None  # annual revenue in 万元 (10k CNY)
    age_years: float | None = None  # years since registration
    tax_credit: str = ""  # 纳税信用等级: "A" | "B" | "M" | "C" | "D" | ""
    qualifications: list[str] = Field(default_factory=list)  # canonical names; "非X" = explicitly not X
    plans: list[str] = Field(default_factory=list)  # canonical names: 上市, 技改, 数字化改造, 出口 ...
    ownership: str = ""  # 民营 | 国有 | 外资 | ""
    # True: ``qualifications`` lists every qualification the firm holds, so one it does not list (nor imply)
    # is "not met" instead of "unknown". False (the default, and what from_text gives): the list may be partial.
    qualifications_complete: bool = False

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise _profile_error(exc) from None

    @field_validator("*", mode="before")
    @classmethod
    def _read(cls, value: Any, info: ValidationInfo) -> Any:
        return READERS[info.field_name](info.field_name, value)

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
                raise ProfileError(f"未知字段“{key}”。可用字段：{'、'.join(FIELD_LABELS)}。")
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
    def from_text(cls, sentence: Any, *, places: list[str] | None = None, max_chars: int | None = None) -> Profile:
        """Rules over one Chinese sentence: place, industry, 人/万元/亿元/年 numbers, grade, qualifications, plans.

        ``places``: place names the caller knows (e.g. the corpus gazetteer's hits in the sentence); they
        win over the place words found by jieba. ``max_chars``: the longest description read
        (``Settings.max_profile_chars`` when None); a longer one is refused before any rule runs, so one
        request cannot keep the server busy.
        """
        return cls(**read_description(sentence, places, max_chars))

    # -- views ---------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def is_empty(self) -> bool:
        return self == Profile()

    def describe(self) -> str:
        """One Chinese line: 乐清 · 制造业 · 120人 · 年营收5000万元 · 成立3年 · 纳税信用A级 · 专精特新 · 计划：上市."""
        parts = [self.location, self.industry]
        if self.employees is not None:
            parts.append(f"{self.employees}人")
        if self.revenue is not None:
            parts.append(f"年营收{self.revenue:g}万元")
        if self.age_years is not None:
            parts.append(f"成立{self.age_years:g}年")
        if self.tax_credit:
            parts.append(f"纳税信用{self.tax_credit}级")
        parts.append(_OWNERSHIP_SHOWN.get(self.ownership, ""))
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
