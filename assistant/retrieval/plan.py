"""Understanding a question before retrieval: normal form, glossary expansion, places, named documents, kind.

Nothing here is keyed to particular questions: places come from the indexed documents'
jurisdictions (and the cities their passages speak for), synonyms from ``data/glossary.toml``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from itertools import product

from assistant.core.text import DOC_NUMBER_PARTS, doc_number_key, pos_tokenizer, search_form, to_simplified

_ADMIN_SUFFIX = ("自治州", "自治县", "新区", "省", "市", "县", "区", "州", "盟", "旗")
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,8}[〔\[［(（]\s*\d{4}\s*[〕\]］)）]\s*\d+\s*号")
NATIONAL = "全国"
_LEADING_PUNCT = re.compile(r"^[\s，,：:]+")  # left at the start when a question's date phrase is taken out
UNKNOWN = "未知"  # jurisdiction of a document that states none


@lru_cache(maxsize=1)
def glossary() -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, str], ...]]:
    raw = resources.files("assistant").joinpath("data/glossary.toml").read_text(encoding="utf-8")
    data = tomllib.loads(raw)
    groups = tuple(tuple(g) for g in data.get("synonyms", []))
    english = tuple(sorted(data.get("english", {}).items(), key=lambda kv: -len(kv[0])))
    return groups, english


def short_name(place: str) -> str:
    """温州市 -> 温州, 乐清市 -> 乐清; keeps names that would become a single character."""
    for suffix in _ADMIN_SUFFIX:
        if place.endswith(suffix) and len(place) - len(suffix) >= 2:
            return place[: -len(suffix)]
    return place


def _pinyin_aliases(name: str) -> set[str]:
    from pypinyin import Style, pinyin
    syllables = pinyin(name, style=Style.NORMAL, heteronym=True)
    combos = product(*[s[:2] for s in syllables])
    return {"".join(c) for c in list(combos)[:4]}


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
        jurisdictions = [to_simplified(j) for j in jurisdictions]
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

    def find(self, question: str) -> list[str]:
        """Places named in the question, in order of appearance, longest alias winning."""
        text = question
        lower = question.lower()
        hits: list[tuple[int, str]] = []
        taken: list[tuple[int, int]] = []
        candidates = sorted(
            ((alias, p.name) for p in self.places for alias in p.aliases), key=lambda a: -len(a[0])
        )
        for alias, name in candidates:
            if len(alias) < 2:
                continue
            latin = alias.isascii()
            hay = lower if latin else text
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


_GENERIC_PLACES = {
    "全国", "中国", "国家", "全省", "全市", "本市", "我市", "我省", "本地", "当地", "国内", "境内", "境外", "海外",
    "省内", "市内", "城市", "地区", "地方", "各地", "各市", "省份", "城镇", "农村", "乡镇", "县域", "县城", "市区",
    "城区", "园区", "开发区", "东部", "西部", "中部", "南方", "北方", "沿海", "内地",
}  # fmt: skip


def pos_tags(text: str) -> list[tuple[str, str]]:
    """(word, jieba part-of-speech flag) pairs, with the policy dictionary."""
    return [(w.word.strip(), w.flag) for w in pos_tokenizer().cut(text, HMM=False) if w.word.strip()]


_SYLLABLE = (
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|ai|ei|ao|ou|an|en|in|un|ia|ie|iu|ua|uo|ui|ue|er|a|o|e|i|u|v)"
)
_PINYIN_WORD = re.compile(rf"(?:{_SYLLABLE}){{2,4}}")
_NOT_PLACES = frozenset({"china", "chinese", "yuan", "renminbi", "zhuan", "jing", "xiao", "ju"})


def english_place_names(text: str) -> list[str]:
    """Capitalised pinyin words inside an English question (Shenzhen, Hangzhou): likely place names."""
    out = []
    for m in re.finditer(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-z]{3,})\b", text):
        word = m.group(1)
        if word.lower() not in _NOT_PLACES and _PINYIN_WORD.fullmatch(word.lower()):
            out.append(word)
    return out


def unknown_places(text: str, gazetteer: Gazetteer, vocabulary: Container[str] = ()) -> list[str]:
    """Place names (jieba 'ns') the corpus never mentions: the answer is then 'not covered'.

    A place the documents mention in passing (长三角, 上海) is not unknown: a passage may still answer.
    """
    known = {a for p in gazetteer.places for a in p.aliases} | {p.name for p in gazetteer.places}
    out = []
    for w in pos_tokenizer().cut(text, HMM=False):
        word = w.word.strip()
        if not w.flag.startswith("ns") or len(word) < 2 or word in _GENERIC_PLACES:
            continue
        if word in known or short_name(word) in known or any(k in word for k in known if len(k) >= 2):
            continue
        if word in vocabulary or short_name(word) in vocabulary:
            continue
        out.append(word)
    for word in english_place_names(text):
        if word.lower() not in known:
            out.append(word)
    return list(dict.fromkeys(out))


@dataclass
class QueryPlan:
    raw: str
    text: str  # search form of the question
    bm25_text: str  # text + glossary expansions + English terms rendered in Chinese
    places: list[str] = field(default_factory=list)
    named_docs: list[str] = field(default_factory=list)  # doc_ids named by title or 文号
    kinds: set[str] = field(default_factory=set)
    english: bool = False
    unknown_places: list[str] = field(default_factory=list)  # places named that the corpus does not cover
    translations: list[str] = field(default_factory=list)  # Chinese glossary terms for an English question
    as_of: date | None = None  # the date the question states ("2024年时…"), answered as of that day
    date_phrase: str = ""  # the words stating it, left out of the search text


_KIND_PATTERNS = {
    "number": r"多少|几|比例|金额|额度|上限|最高|最低|比率|费率|期限|多久|多长|何时|什么时候|哪一年|哪年|时间|日期|目标|"
    r"how much|how many|what percentage|percent|rate|when|amount|how long|deadline|target|ratio|share",
    "list": r"哪些|有什么|包括|都有|列举|几项|哪几|what are|which .*s\b|list",
    "procedure": r"如何|怎么|怎样|流程|程序|步骤|办理|申请|申报|how (do|can|to)|process|procedure|apply",
    "which_city": r"哪个城市|哪座城市|哪个地方|哪个市|哪些城市|哪些地方|which city|which cities|where",
    "entity": r"哪个部门|哪个单位|什么部门|牵头|负责|哪家|什么平台|哪个平台|名称|叫什么|which department|who|what platform|name",
    "comparison": r"分别|比较|对比|区别|差异|不同|相比|和.{1,6}(各|都)|compare|difference|versus|vs\.?|both",
}


def detect_kinds(text: str) -> set[str]:
    lower = text.lower()
    return {k for k, pat in _KIND_PATTERNS.items() if re.search(pat, lower)}


def english_terms(lower: str) -> list[str]:
    _, english = glossary()
    out = []
    for term, zh in english:
        if re.search(rf"(?<![a-z]){re.escape(term)}(?![a-z])", lower):
            out.append(zh)
    return out


def expand(text: str) -> list[str]:
    groups, _ = glossary()
    extra: list[str] = []
    for group in groups:
        if any(term in text for term in group):
            extra.extend(t for t in group if t not in text)
    return extra


def plan_query(
    question: str,
    gazetteer: Gazetteer,
    documents: list[tuple[str, str, str]],
    vocabulary: Container[str] = (),
    today: date | None = None,
) -> QueryPlan:
    """``documents``: (doc_id, title, doc_number) of the index; ``today`` reads 去年时 (default: the clock)."""
    from assistant.core.dates import question_date
    from assistant.core.validity import today as clock

    text = search_form(question).strip()
    stated = question_date(text, today or clock())
    if stated is not None:  # "2024年时，温州…" searches as "温州…" on 2024-12-31
        text = _LEADING_PUNCT.sub("", text.replace(stated.phrase, " ", 1)).strip() or text
    lower = text.lower()
    latin = sum(c.isascii() and c.isalpha() for c in text)
    han = sum("\u4e00" <= c <= "\u9fff" for c in text)
    english = latin > 2 * max(han, 1)
    extras = expand(text)
    translations = english_terms(lower) if english else []
    extras += translations + [t for zh in translations for t in expand(zh)]
    places = gazetteer.find(text)
    place_names = [a for p in gazetteer.places for a in p.aliases if not a.isascii()]
    named = _named_documents(text, documents, place_names)
    plan = QueryPlan(
        raw=question,
        text=text,
        bm25_text=" ".join([text, *extras]),
        places=places,
        named_docs=named,
        kinds=detect_kinds(text),
        english=english,
        unknown_places=unknown_places(text, gazetteer, vocabulary),
        translations=translations,
        as_of=stated.day if stated else None,
        date_phrase=stated.phrase if stated else "",
    )
    if len(places) >= 2:
        plan.kinds.add("comparison")
    return plan


_DOC_KIND = re.compile(r"实施意见|若干意见|若干举措|若干措施|典型做法|意见|举措|措施|做法|办法|方案|通知|文件")
# 《…》 read from the first 《 of its 》-delimited stretch: linear on a long run of 《 (tests/test_patterns.py).
_QUOTED_TITLE = re.compile(r"(?:^|(?<=》))[^》《]*+《([^》]{4,})》")
_SHORT_NUMBER = re.compile(r"(?<!\d)(\d{1,4})号(?:文|文件)")
ABBREVIATION_MIN_CHARS = 4


def _names_by_number(text: str, documents: list[tuple[str, str, str]]) -> list[str]:
    asked = [k for m in DOC_NUMBER_PARTS.finditer(text) if (k := doc_number_key(m.group(0)))]
    named = []
    for doc_id, _, doc_number in documents:
        key = doc_number_key(doc_number) if doc_number else None
        if key and any(a[1:] == key[1:] and (not a[0] or key[0].endswith(a[0])) for a in asked):
            named.append(doc_id)
    if named or asked:
        return named
    serials = set(_SHORT_NUMBER.findall(text))  # "43号文": only when one document has that serial
    hits = [d for d, _, n in documents if n and (k := doc_number_key(n)) and k[2] in serials]
    return hits if len(hits) == 1 else []


def _title_core(title: str, places: list[str]) -> str:
    core = search_form(title)
    for place in sorted(places, key=len, reverse=True):
        core = core.replace(place, "")
    return core


def _longest_common(a: str, b: str) -> str:
    best = ""
    for i in range(len(a)):
        j = i + len(best) + 1
        while j <= len(a) and a[i:j] in b:
            best = a[i:j]
            j += 1
    return best


def _names_by_abbreviation(text: str, documents: list[tuple[str, str, str]], places: list[str]) -> list[str]:
    """A distinctive run of a title's words followed by a document word: 友好城市实施意见, 朔州若干意见."""
    cores = {doc_id: _title_core(title, places) for doc_id, title, _ in documents}
    named = []
    for doc_id, core in cores.items():
        run = _longest_common(text, core)
        if len(run) < ABBREVIATION_MIN_CHARS or any(run in c for d, c in cores.items() if d != doc_id):
            continue
        end = text.find(run) + len(run)
        if _DOC_KIND.search(run) or _DOC_KIND.match(text, end) or _DOC_KIND.search(text[end : end + 6]):
            named.append(doc_id)
    return named


def _named_documents(
    text: str, documents: list[tuple[str, str, str]], places: list[str] | None = None
) -> list[str]:
    """Documents a question names by 文号, full or quoted title, or a distinctive abbreviation of it."""
    text = search_form(text)
    named = _names_by_number(text, documents)
    quoted = _QUOTED_TITLE.findall(text)
    for doc_id, title, _ in documents:
        title_s = search_form(title)
        if doc_id not in named and title_s and (title_s in text or any(q in title_s or title_s in q for q in quoted)):
            named.append(doc_id)
    if not named:
        named = _names_by_abbreviation(text, documents, places or [])
    return named
