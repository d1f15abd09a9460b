"""The offline answerer: pick the sentences of the top passages that answer the question, cite them.

No model, no network. It scores each sentence by how much of the question's meaning it covers
(weighted by term rarity, glossary synonyms counted as one concept), prefers sentences with numbers
for amount questions, answers per place for comparisons, and declines when nothing covers enough.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Protocol

from llama_index.core.schema import NodeWithScore

from assistant.core.numbers import canonical_values, extract_numbers
from assistant.core.schema import REFUSAL, Answer, Citation
from assistant.core.text import is_traditional, search_form, sub_words, to_simplified, to_traditional, words
from assistant.qa.citing import renumber, split_sentences, verify_numbers
from assistant.retrieval.plan import QueryPlan, detect_kinds, english_terms, expand, glossary, short_name


class Answerer(Protocol):
    """One call for every answerer: question + ranked passages in, an ``Answer`` out."""

    name: str

    def answer(self, question: str, passages: list[NodeWithScore], **context: object) -> Answer: ...

    def stream(self, question: str, passages: list[NodeWithScore], **context: object) -> Iterator[str | Answer]: ...


_DEPARTMENT_Q = re.compile(r"部门|单位|牵头|负责|谁|department|responsible|agency|who", re.I)
_DEPARTMENT = re.compile(r"牵头|负责|责任单位|[市县区省]\S{1,10}(局|委|办|厅|中心)")
_NAME_Q = re.compile(r"叫什么|名称|名字|什么平台|哪个平台|什么系统|什么产品|哪个产品|品牌|called|name", re.I)
_NAMED = re.compile(r"“[^”]{2,12}”|（[^）]{2,10}）|《[^》]{2,30}》")
_HEADING_ONLY = re.compile(r"^(?:[（(][一二三四五六七八九十\d]+[）)]|[一二三四五六七八九十]+、|\d+[.、．]|重点工作：|落实举措：)?[^，,。；]{2,28}[。；;]?$")
_ENTITY_HINT = re.compile(r"局|委|办|中心|平台|银行|法院|协会|商会|联合会|部|厅|公司|基金|系统|APP|app|专窗|热线")
_CLAUSE_SPLIT = re.compile(r"(?<=[，,：:；;])")
_HEADING_PREFIX = re.compile(r"^\s*(?:[（(][一二三四五六七八九十\d]+[）)]|[一二三四五六七八九十]+、|\d+[.、．])")


@dataclass
class Concept:
    """One idea of the question: any full term counts fully (a word or its glossary synonyms),
    a shorter word inside it counts half (所得税 inside 个人所得税)."""

    terms: set[str]
    weight: float
    partial: set[str] = field(default_factory=set)
    numeric: bool = False
    word: str = ""  # the question's own word (a synonym counts a little less)

    def score(self, text: str) -> float:
        if self.word and self.word in text:
            return 1.0
        if any(t in text for t in self.terms):
            return 0.85
        if any(t in text for t in self.partial):
            return 0.5
        return 0.0


@dataclass
class Candidate:
    passage_index: int  # 1-based index into passages
    text: str  # sentence (possibly trimmed), original script
    score: float
    coverage: float
    has_number: bool
    place: str = ""
    covered: set[int] = field(default_factory=set)
    sentence_coverage: float = 0.0  # sentence (+ its section heading) alone
    passage_coverage: float = 0.0
    units: set[str] = field(default_factory=set)
    quoted_ok: bool = True
    focus_ok: bool = True
    city: str = ""  # the city a national passage speaks for (NDRC practices)


# supporting_sentences(require_core=True) accepts a sentence without the topic's rarest idea only when
# that idea is a small part of the question and the sentence covers most of the rest.
CORE_WAIVER_COVERAGE = 0.6
CORE_WAIVER_SHARE = 0.0
DISAGREEMENT_SCORE = 0.85  # a rival statement must answer nearly as well as the best one

# Words that carry the form of a question, not its topic.
QUESTION_WORDS = frozenset(
    "什么 多少 哪些 哪个 哪里 哪儿 哪家 哪一 如何 怎么 怎样 怎么办 怎么样 是否 有没有 能否 可否 请问 一下 具体 主要 "
    "分别 各自 各 都 有 是 的 了 吗 呢 吧 要 想 想要 能 能够 可以 需要 应该 会 该 给 给予 拿 拿到 得到 获得 享受 "
    "相关 有关 方面 情况 规定 政策 文件 措施 举措 意见 要求 内容 一般 目前 现在 今年 当前 我 我们 我的 你 您 他们 "
    "城市 地方 地区 哪座 哪一个 几 几个 怎样才能 如何才能 还 又 再 也 就 才 最 更 比较 多 少 大 小 对 在 和 与 及 "
    "不同 区别 差异 相同 一样 对比 相比 共同 异同 怎么比 力度 标准 分别是 这些 那些 这个 那个 其中 "
    "采用 采取 通过 进行 实行 开展 做 做了 搞 推出 出台 有何 哪种 哪类 之类 之类的 这类 一类 有没有 没有 相关规定 能不能 不能 可不可以 是不是 会不会 行不行 "
    "the a an of to in on for and or is are was what which how many much does do did by with from at as that "
    "this be can could should will would any there their its it they policy policies document documents".split()
)  # fmt: skip

# Number questions name the kind of figure they expect; an answer must state one of that kind.
_UNIT_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("percent", r"比例|比重|百分|费率|利率|税率|占比|几成|增速|增长率|percentage|percent|rate\b|share"),
    ("count", r"(多少|几)(家|个|项|名|人|户|批|所|类|种|条|座|次|支|位)|how many"),
    ("duration", r"几天|多少天|多久|多长时间|几个工作日|多少个工作日|几个月|多少个月|几年|多少年|how long|how many days"),
    ("year", r"哪一年|哪年|什么时候|何时|哪个月|什么时间|which year|what year|\bwhen\b"),
    ("money", r"多少钱|多少万|多少元|多少亿|金额|额度|资金|规模有多大|多大规模|总规模|奖励|奖补|补助|补贴|资助|贷款|贴息|how much|amount|fund"),
)
# A numeral starts where its run starts (its second character when a digit blocks the first), and whitespace
# is possessive: linear on long runs, same matches (tests/test_patterns.py).
_NUM = r"(?<![\d.])(?:\d+(?:\.\d+)?|(?:(?<![一二三四五六七八九十两百千])|(?<=[\d.][一二三四五六七八九十两百千]))[一二三四五六七八九十两百千]+)"
_NUMBER_UNITS = (
    ("percent", re.compile(r"\d\s*+[%％]|百分之|(?<!\d)\d+\s*+成(?![本立果员])")),
    ("money", re.compile(rf"{_NUM}\s*+(?:万|亿)?\s*+元|{_NUM}\s*+(?:万|亿)(?![家人户个])")),
    ("duration", re.compile(rf"{_NUM}\s*+(?:个)?(?:工作日|天|日内|小时|分钟|个月|周)|(?<!\d)\d{{1,3}}\s*+年(?!度)|(?<![一二三两四五六七八九十])[一二三两四五六七八九十]+年")),
    ("year", re.compile(r"\d{4}\s*年|\d{4}[-./]\d")),
    ("count", re.compile(rf"{_NUM}\s*+(?:余|多)?(?:家|个(?!工作日|月)|项|名|人|户|批|所|类|种|条|座|次|支|位|倍)")),
)


def expected_unit(question: str) -> str | None:
    lower = question.lower()
    for unit, pattern in _UNIT_QUESTIONS:
        if re.search(pattern, lower):
            return unit
    return None


def number_units(sentence: str) -> set[str]:
    """Kinds of figures a sentence states: money, percent, duration, year, count."""
    sentence = to_simplified(sentence)
    return {unit for unit, pattern in _NUMBER_UNITS if pattern.search(sentence)}


_EXAMPLE_AFTER = re.compile(r"(?:(?<!\s)\s++)?(?:之类|这类|一类|这样|那样|等|等等|類|之類|這類|這樣)")


def quoted_terms(question: str) -> list[str]:
    """Names the user quotes (“科创飞地”, 「小升規」): an answer must be about exactly that name."""
    found = [
        m.group(1)
        for m in re.finditer(r"[“\"「『‘']([^”\"」』’']{2,20})[”\"」』’']", question)
        if not _EXAMPLE_AFTER.match(question, m.end())  # “首违不罚”之类的: an example, not a required name
    ]
    return [search_form(t).lower() for t in found]


_ASKING = frozenset("多少 几 哪些 什么 多大 多高 多长 多久 哪个 哪家 哪一 哪里 几个 几天 几年".split())
_LINKING = frozenset("是 为 的 有 能 可 要 会 达到 达 控制 在 拿 给 给予 最高 最多 最低 具体 一般 大概 约 大约 分别 共 一共 总共 累计 需要 应 应该 能够 可以".split())


_META_NOUNS = frozenset(
    "目标 号码 规模 金额 标准 额度 数量 比例 水平 程度 时间 期限 上限 下限 数额 数字 幅度 情况 内容 方式 办法 条件 政策 程序 流程 "
    "部门 单位 机构 产品 平台 名称 名字 优惠 计划 做法 举措 措施 支持 服务 系统 工具 渠道 途径 手段 城市 企业 成效 效果 作用 "
    "工作 事项 问题 任务 要点 重点 环节 形式 模式 机制 制度 领域 行业 对象 范围 人员 哪些 国家 地方 地区".split()
)


def focus_word(question: str) -> str | None:
    """The thing a question asks for: the noun just before 多少/哪些/什么 (起征点 in 起征点是多少).

    Meta nouns (目标, 标准, 比例 …) are passed over for the noun they qualify.
    """
    from assistant.retrieval.plan import pos_tags

    tagged = pos_tags(question)
    for i, (w, _) in enumerate(tagged):
        if w not in _ASKING:
            continue
        for cand, flag in tagged[i + 1 : i + 3]:  # 多少贷款, 哪些部门, 什么平台
            if cand in _LINKING or cand in ("的", "个", "种", "项", "家"):
                continue
            if flag.startswith(("n", "vn")) and not flag.startswith("ns") and len(cand) >= 2:
                if cand not in _META_NOUNS and cand not in QUESTION_WORDS:
                    return cand
            break
        for j in range(i - 1, max(i - 6, -1), -1):
            cand, flag = tagged[j]
            if flag in ("x", "w") or not re.search(r"[\w]", cand):  # a clause ends: nothing to qualify
                break
            if cand in _LINKING or cand in _META_NOUNS or cand in QUESTION_WORDS:
                continue
            if flag.startswith(("n", "vn")) and not flag.startswith("ns") and len(cand) >= 2:
                return cand
        return None
    return None


_ASKED_AFTER = re.compile(r"(?:什么|多少|哪些|哪种|哪类|何种)([\u4e00-\u9fff]{2,4})")


def asked_words(question: str) -> set[str]:
    """What a question asks for rather than what it is about: 号码 in 是什么号码, 奖励 in 有什么奖励."""
    return {m.group(1)[:2] for m in _ASKED_AFTER.finditer(question)}


def default_weight(term: str) -> float:
    return 1.0 + 0.3 * min(len(term), 4)


class ExtractiveAnswerer:
    """Sentence extraction with citations; the default answerer and the LLM's fallback."""

    name = "extractive"

    def __init__(
        self,
        *,
        idf: Callable[[str], float] | None = None,
        max_passages: int = 6,
        min_coverage: float = 0.55,
        factoid_chars: int = 120,
    ) -> None:
        self.idf = idf or default_weight
        self.max_passages = max_passages
        self.min_coverage = min_coverage
        self.factoid_chars = factoid_chars

    # -- public -----------------------------------------------------------------------------------

    def answer(self, question: str, passages: list[NodeWithScore], **context: object) -> Answer:
        plan = context.get("plan")
        if not isinstance(plan, QueryPlan):
            plan = _fallback_plan(question)
        unknown = plan.unknown_places
        if unknown and not plan.places:
            return refusal(f"文件不涉及{'、'.join(map(str, unknown))}")
        comparing = "comparison" in plan.kinds and len(plan.places) >= 2
        passages = passages if comparing else passages[: self.max_passages]
        if not passages:
            return refusal()
        idf = context.get("idf")
        concepts = self._concepts(plan, idf if callable(idf) else None)
        if not any(not c.numeric for c in concepts):  # nothing but numbers (or nothing) to look for
            return refusal()
        cands = self._candidates(plan, passages, concepts)
        cands = self._admissible(plan, cands, 0.8 * self.min_coverage if comparing else self.min_coverage)
        if not cands:
            return refusal()
        notice = ""
        if comparing:
            draft, quotes = self._per_place(plan, cands, concepts)
        else:
            draft, quotes = self._compose(plan, cands, concepts)
            if draft and (pair := self._disagreement(plan, cands, passages)):
                draft, quotes, notice = self._show_both(draft, quotes, pair, passages, concepts)
                verdict = context.get("in_force")  # which of the two is in force on the answer's date
                if callable(verdict):
                    notice += verdict([str(passages[c.passage_index - 1].node.metadata.get("doc_id", "")) for c in pair])
        if not draft:
            return refusal()
        return self._finish(question, plan, draft, quotes, passages, notice=notice, comparing=comparing)

    def _finish(
        self,
        question: str,
        plan: QueryPlan,
        draft: str,
        quotes: dict[int, str],
        passages: list[NodeWithScore],
        notice: str = "",
        comparing: bool = False,
    ) -> Answer:
        """A draft with [n] markers -> the Answer: year notice, the question's script, number check, citations."""
        if not comparing and (years := year_mismatch(plan, draft)):  # never another year's figure in silence
            draft = year_notice(years, draft) + draft
        draft = self._script(question, draft)
        checked, _removed = verify_numbers(draft, passages)
        text, citations, cited = renumber(checked, passages, quotes)
        if not citations:
            return refusal()
        if plan.english:
            text = "According to the policy documents (quoted in Chinese):\n" + text
        return Answer(
            text=text, answerable=True, citations=citations, passages=cited, answerer=self.name, notice=notice
        )

    def supporting_sentences(
        self,
        question: str,
        passages: list[NodeWithScore],
        limit: int = 2,
        *,
        require_core: bool = False,
        **context: object,
    ) -> list[Candidate]:
        """The best sentences that answer ``question`` (admissible by the same rules as answers), one per idea.

        ``require_core``: each sentence must state the topic's rarest idea (上市 in 企业上市有什么奖励, the
        asked-for 奖励 aside, which the focus rule already demands) unless
        it covers nearly all the others, so a table cell never stands on a topic's common words alone.
        """
        plan = context.get("plan")
        if not isinstance(plan, QueryPlan):
            plan = _fallback_plan(question)
        idf = context.get("idf")
        concepts = self._concepts(plan, idf if callable(idf) else None)
        if not any(not c.numeric for c in concepts):
            return []
        admissible = self._admissible(plan, self._candidates(plan, passages, concepts), self.min_coverage)
        if require_core:
            asked = set() if plan.english else asked_words(plan.text.lower())  # 奖励 in 有什么奖励: asked, not topic
            topical = [
                i for i, c in enumerate(concepts) if not c.numeric and not any(a in t for a in asked for t in c.terms)
            ] or [i for i, c in enumerate(concepts) if not c.numeric]
            core = max(topical, key=lambda i: concepts[i].weight)
            total = sum(c.weight for c in concepts) or 1.0
            waivable = concepts[core].weight / total < CORE_WAIVER_SHARE
            admissible = [
                c
                for c in admissible
                if core in c.covered or (waivable and c.coverage >= CORE_WAIVER_COVERAGE)
            ]
        ranked = sorted(admissible, key=lambda c: -c.score)
        chosen: list[Candidate] = []
        for c in ranked:
            if len(chosen) >= limit or (chosen and c.score < 0.8 * chosen[0].score):
                break
            if any(c.text == x.text for x in chosen):
                continue
            if chosen and c.passage_index == chosen[0].passage_index and not c.covered - chosen[0].covered:
                continue  # the same passage saying nothing new
            chosen.append(c)
        for c in chosen:
            c.text = self._trim(c.text, concepts, self.factoid_chars)
        return chosen

    def stream(self, question: str, passages: list[NodeWithScore], **context: object) -> Iterator[str | Answer]:
        ans = self.answer(question, passages, **context)
        yield from re.findall(r".{1,12}", ans.text, flags=re.S)
        yield ans

    def _admissible(self, plan: QueryPlan, cands: list[Candidate], threshold: float) -> list[Candidate]:
        """Sentences that may answer: enough of the question covered, the quoted name present,
        and for an amount/ratio/count/date question a figure of that kind stated."""
        unit = expected_unit(plan.raw) if "number" in plan.kinds else None
        out = []
        for c in cands:
            if c.coverage < threshold or not c.quoted_ok or not c.focus_ok:
                continue
            if "number" in plan.kinds and not c.has_number:
                continue
            if unit and unit not in c.units and not (unit == "money" and "percent" in c.units):
                continue
            out.append(c)
        return out

    # -- scoring ----------------------------------------------------------------------------------

    def _concepts(self, plan: QueryPlan, idf: Callable[[str], float] | None = None) -> list[Concept]:
        idf = idf or self.idf
        groups, _ = glossary()
        place_terms = {t.lower() for p in plan.places for t in (p, short_name(p))}
        if plan.english:
            source = " ".join([*plan.translations, *re.findall(r"\d+(?:\.\d+)?", plan.text)])
        else:
            source = plan.text
        concepts: list[Concept] = []
        seen: set[str] = set()
        for word in words(source):
            if word in seen or word in QUESTION_WORDS or word in place_terms or short_name(word) in place_terms:
                continue
            if not re.search(r"[\u4e00-\u9fff0-9a-z]", word):
                continue
            numeric = bool(re.fullmatch(r"[\d.]+|[\d.]+[%万亿元年月日天个家项]+", word))
            if len(word) < 2 and not numeric:
                continue
            seen.add(word)
            terms = {word}
            for group in groups:
                if word in group:
                    terms |= set(group)
            partial = {w for w in sub_words(word) if w not in QUESTION_WORDS} if len(word) >= 3 else set()
            weight = idf(word) * (0.5 if numeric else 1.0)
            concepts.append(Concept(terms=terms, weight=weight, partial=partial, numeric=numeric, word=word))
        return [c for c in concepts if c.weight > 0]

    def _coverage(self, text: str, concepts: list[Concept]) -> tuple[float, set[int]]:
        total = sum(c.weight for c in concepts)
        got = 0.0
        hit: set[int] = set()
        for i, c in enumerate(concepts):
            s = c.score(text)
            if s:
                got += s * c.weight
                hit.add(i)
        return (got / total if total else 0.0), hit

    def _candidates(self, plan: QueryPlan, passages: list[NodeWithScore], concepts: list[Concept]) -> list[Candidate]:
        out: list[Candidate] = []
        wants_number = "number" in plan.kinds
        quoted = quoted_terms(plan.raw)
        focus = focus_word(plan.text.lower()) if not plan.english else None
        focus_concept = (
            next((c for c in concepts if any(focus in t for t in c.terms | c.partial)), None) if focus else None
        )
        for rank, nws in enumerate(passages, start=1):
            md = nws.node.metadata
            body = nws.node.get_content()
            ctx = search_form(f"{md.get('title', '')} {md.get('section', '')} {md.get('city', '')}").lower()
            body_s = search_form(body).lower()
            p_cov, _ = self._coverage(ctx + body_s, concepts)
            quoted_ok = all(q in ctx + body_s for q in quoted)
            prior = 1.0 / (1.0 + 0.25 * (rank - 1))
            place = self._place_of(md, plan.places)
            for sent in split_sentences(body):
                if len(re.sub(r"\s", "", sent)) < 6:
                    continue
                sent_s = search_form(sent).lower()
                s_cov, hit = self._coverage(search_form(str(md.get("section", ""))).lower() + " " + sent_s, concepts)
                own_cov, _ = self._coverage(sent_s, concepts)
                bare = _strip_heading(sent)
                has_num = bool(extract_numbers(bare))
                score = 0.45 * s_cov + 0.2 * own_cov + 0.2 * p_cov + 0.15 * prior
                if wants_number and has_num:
                    score += 0.12
                if "entity" in plan.kinds:
                    if _ENTITY_HINT.search(sent):
                        score += 0.06
                    if _DEPARTMENT_Q.search(plan.raw) and _DEPARTMENT.search(sent):
                        score += 0.12
                    if _NAME_Q.search(plan.raw) and _NAMED.search(sent):
                        score += 0.12
                if _HEADING_ONLY.match(sent.strip()):
                    score -= 0.15
                if "which_city" in plan.kinds and md.get("city"):
                    score += 0.05
                out.append(
                    Candidate(
                        passage_index=rank,
                        text=sent,
                        score=score,
                        coverage=max(s_cov, 0.5 * (s_cov + p_cov)),
                        has_number=has_num,
                        place=place,
                        covered=hit,
                        sentence_coverage=s_cov,
                        passage_coverage=p_cov,
                        units=number_units(bare) if has_num else set(),
                        quoted_ok=quoted_ok,
                        city=str(md.get("city", "")),
                        focus_ok=focus_concept is None
                        or focus_concept.score(search_form(str(md.get("section", ""))).lower() + " " + sent_s) >= 0.85,
                    )
                )
        return out

    @staticmethod
    def _place_of(md: dict, places: list[str]) -> str:
        parts = str(md.get("jurisdiction", "")).split("/")
        city = str(md.get("city", ""))
        for p in places:
            if p == city or p in parts:
                return p
        return ""

    # -- composing ---------------------------------------------------------------------------------

    def _compose(self, plan: QueryPlan, cands: list[Candidate], concepts: list[Concept]) -> tuple[str, dict[int, str]]:
        ranked = sorted(cands, key=lambda c: -c.score)
        best = ranked[0]
        is_list = "list" in plan.kinds or "procedure" in plan.kinds
        limit = 4 if is_list else 2
        budget = 320 if is_list else self.factoid_chars + 40
        chosen = [best]
        covered = set(best.covered)
        for c in ranked[1:]:
            if len(chosen) >= limit:
                break
            if c.score < best.score * (0.8 if is_list else 0.9):
                break
            if c.text == best.text or any(c.text == x.text for x in chosen):
                continue
            adds = bool(c.covered - covered) or (is_list and c.coverage >= self.min_coverage)
            if not adds:
                continue
            chosen.append(c)
            covered |= c.covered
        pieces: list[str] = []
        quotes: dict[int, str] = {}
        used = 0
        for c in chosen:
            text = self._trim(c.text, concepts, self.factoid_chars if not is_list else 160)
            if pieces and used + len(text) > budget:
                break
            used += len(text)
            city = self._city_prefix(c)
            pieces.append(f"{city}{text}[{c.passage_index}]")
            quotes.setdefault(c.passage_index, text.strip("…"))
        sep = "\n" if is_list and len(pieces) > 1 else ""
        if sep:
            pieces = [f"- {p}" for p in pieces]
        return sep.join(pieces), quotes

    def _per_place(
        self, plan: QueryPlan, cands: list[Candidate], concepts: list[Concept]
    ) -> tuple[str, dict[int, str]]:
        lines: list[str] = []
        quotes: dict[int, str] = {}
        for place in plan.places:
            mine = [c for c in cands if c.place == place]
            if not mine:
                lines.append(f"{place}：所收录的文件中未找到相关规定。")
                continue
            best = max(mine, key=lambda c: c.score)
            text = self._trim(best.text, concepts, self.factoid_chars)
            lines.append(f"{place}：{text}[{best.passage_index}]")
            quotes.setdefault(best.passage_index, text.strip("…"))
        if all("未找到相关规定" in line for line in lines):
            return "", {}
        return "\n".join(lines), quotes

    @staticmethod
    def _disagreement(
        plan: QueryPlan, cands: list[Candidate], passages: list[NodeWithScore]
    ) -> tuple[Candidate, Candidate] | None:
        """Two documents that both govern the asked place and state different figures for one measure.

        Same measure = the same question words covered; governing the same place = one jurisdiction
        contains the other (a city and its county, or two documents of one city), so two cities that
        simply differ are never called a disagreement.
        """
        if "number" not in plan.kinds or len(cands) < 2:
            return None
        ranked = sorted(cands, key=lambda c: -c.score)
        best = ranked[0]
        md_best = passages[best.passage_index - 1].node.metadata
        values_best = canonical_values(best.text)
        for c in ranked[1:]:
            if c.score < DISAGREEMENT_SCORE * best.score:
                break
            md = passages[c.passage_index - 1].node.metadata
            if md.get("doc_id") == md_best.get("doc_id") or c.covered != best.covered or c.city or best.city:
                continue
            a, b = str(md_best.get("jurisdiction", "")), str(md.get("jurisdiction", ""))
            if not a or not b or not (a.startswith(b) or b.startswith(a)):
                continue
            values = canonical_values(c.text)
            if values and values_best and not (values <= values_best or values_best <= values):
                return best, c
        return None

    def _show_both(
        self,
        draft: str,
        quotes: dict[int, str],
        pair: tuple[Candidate, Candidate],
        passages: list[NodeWithScore],
        concepts: list[Concept],
    ) -> tuple[str, dict[int, str], str]:
        """Add the other document's statement to the answer and say, with both dates, that they differ."""
        first, other = pair
        if f"[{other.passage_index}]" not in draft:
            text = self._trim(other.text, concepts, self.factoid_chars)
            draft += f"\n另一文件的规定：{text}[{other.passage_index}]"
            quotes.setdefault(other.passage_index, text.strip("…"))
        names = []
        for c in pair:
            cite = Citation.from_node(0, passages[c.passage_index - 1])
            names.append(cite.source_head())
        notice = f"两份适用的文件对此规定不一致：{names[0]}与{names[1]}。请以较新的文件或主管部门的解释为准。"
        return draft, quotes, notice

    @staticmethod
    def _city_prefix(c: Candidate) -> str:
        """Name the city a practice belongs to when the sentence itself does not."""
        if not c.city or short_name(c.city) in c.text:
            return ""
        return f"{c.city}："

    def _trim(self, sentence: str, concepts: list[Concept], limit: int) -> str:
        """Keep the run of clauses that covers the question best, within ``limit`` characters."""
        sentence = sentence.strip()
        if len(sentence) <= limit:
            return sentence
        clauses = [c for c in _CLAUSE_SPLIT.split(sentence) if c]
        best = (-1.0, 0, 1)
        for i in range(len(clauses)):
            length = 0
            for j in range(i, len(clauses)):
                length += len(clauses[j])
                if length > limit and j > i:
                    break
                text = search_form("".join(clauses[i : j + 1])).lower()
                cov, _ = self._coverage(text, concepts)
                num = 0.05 if extract_numbers(text) else 0.0
                score = cov + num - 0.0005 * length
                if score > best[0]:
                    best = (score, i, j + 1)
        _, i, j = best
        text = "".join(clauses[i:j]).strip()
        text = text.rstrip("，,：:；;")
        prefix = "" if i == 0 else "…"
        suffix = "" if j == len(clauses) else "…"
        return f"{prefix}{text}{suffix}" if text else sentence[:limit]

    @staticmethod
    def _script(question: str, text: str) -> str:
        """Answer in the script the user asked in; the cited passages stay as written."""
        if is_traditional(question):
            return to_traditional(text)
        if re.search(r"[\u4e00-\u9fff]", question):
            return to_simplified(text)
        return text


# -- years of a figure (data/year_figures.toml) -------------------------------------------------------------

_YEARS_DATA = tomllib.loads(resources.files("assistant").joinpath("data/year_figures.toml").read_text(encoding="utf-8"))
ASKED_YEARS = tuple(re.compile(p["pattern"]) for p in _YEARS_DATA["asked"])
STATED_YEARS = tuple(re.compile(p["pattern"]) for p in _YEARS_DATA["stated"])
EVERY_YEAR = re.compile(_YEARS_DATA["every_year"]["pattern"])
YEAR_LABELS = tuple((re.compile(x["pattern"]), str(x["label"])) for x in _YEARS_DATA["notice"]["label"])
_CITE_MARKS = re.compile(r"\[\d+\]")


def years_in(text: str, patterns: tuple[re.Pattern[str], ...]) -> set[int]:
    """The years the patterns find, a range ("2023-2025年") standing for each year in it."""
    text = _CITE_MARKS.sub("", to_simplified(search_form(text)))
    years: set[int] = set()
    for pattern in patterns:
        for m in pattern.finditer(text):
            first = int(m.group("year"))
            last = int(m.groupdict().get("until") or first)
            years.update(range(first, last + 1) if 0 <= last - first <= 50 else (first, last))
    return years


def year_mismatch(plan: QueryPlan, draft: str) -> list[int]:
    """The years an answer states its figure for when the number question asks about none of them.

    "温州2024年新增多少家…" answered by "到2025年，新增…": [2025]. The date the question is asked as of
    ("2024年时…") is already out of ``plan.text``; a sentence for every year (每年…) fits any year.
    """
    if plan.english or "number" not in plan.kinds:
        return []
    asked = years_in(plan.text, ASKED_YEARS)
    stated = years_in(draft, STATED_YEARS)
    if not asked or not stated or asked & years_in(draft, ASKED_YEARS) or EVERY_YEAR.search(to_simplified(draft)):
        return []  # the asked year is named (a figure "截至2021年6月末" for a 2021 question), or any year fits
    return sorted(stated)


def year_notice(years: list[int], draft: str) -> str:
    """"文件只给出2025年的目标：", put before an answer whose figure is for another year than the one asked."""
    simplified = to_simplified(draft)
    label = next((name for pattern, name in YEAR_LABELS if pattern.search(simplified)), None)
    text = str(_YEARS_DATA["notice"]["text"])
    return text.format(years="、".join(f"{y}年" for y in years), label=label or _YEARS_DATA["notice"]["default"])


def _strip_heading(sentence: str) -> str:
    return _HEADING_PREFIX.sub("", sentence, count=1)


def _fallback_plan(question: str) -> QueryPlan:
    text = search_form(question)
    lower = text.lower()
    english = sum(c.isascii() and c.isalpha() for c in text) > 2 * max(sum("\u4e00" <= c <= "\u9fff" for c in text), 1)
    translations = english_terms(lower) if english else []
    extras = expand(text) + translations
    return QueryPlan(
        raw=question,
        text=text,
        bm25_text=" ".join([text, *extras]),
        kinds=detect_kinds(lower),
        english=english,
        translations=translations,
    )


def refusal(reason: str = "") -> Answer:
    text = REFUSAL if not reason else f"{REFUSAL.rstrip('。')}（{reason}）。"
    return Answer(text=text, answerable=False, answerer=ExtractiveAnswerer.name)


def idf_from_bm25(bm25: object, n_docs: int) -> Callable[[str], float]:
    """Term weights from the BM25 index's document frequencies: rare words matter more."""
    vocab = getattr(bm25, "vocab_dict", {})
    indptr = getattr(bm25, "scores", {}).get("indptr")

    def weight(term: str) -> float:
        tid = vocab.get(term)
        if tid is None or indptr is None:
            return 4.0 if len(term) >= 2 else default_weight(term)  # a word the corpus never uses: a topic it lacks
        df = max(int(indptr[tid + 1] - indptr[tid]), 1)
        return max(math.log(1 + (n_docs - df + 0.5) / (df + 0.5)), 0.2)

    return weight
