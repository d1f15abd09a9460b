"""What a question asks for: its form words, the names it quotes, the noun it asks about.

The word lists are data (``data/language.toml`` [question]); this module applies them.
"""

from __future__ import annotations

import re

from assistant.core.lexicon import pattern, words
from assistant.core.text import search_form
from assistant.retrieval.plan import pos_tags

# Words that carry the form of a question, not its topic.
QUESTION_WORDS = frozenset(words("language", "question.form_words"))
_ASKING = frozenset(words("language", "question.asking"))
_LINKING = frozenset(words("language", "question.linking"))
_META_NOUNS = frozenset(words("language", "question.meta_nouns"))
_QUOTED = pattern("language", "question.quoted")
_EXAMPLE_AFTER = pattern("language", "question.example_after")
_ASKED_AFTER = pattern("language", "question.asked_after")


def quoted_terms(question: str) -> list[str]:
    """Names the user quotes (“科创飞地”, 「小升規」): an answer must be about exactly that name."""
    found = [
        m.group(1)
        for m in _QUOTED.finditer(question)
        if not _EXAMPLE_AFTER.match(question, m.end())  # “首违不罚”之类的: an example, not a required name
    ]
    return [search_form(t).lower() for t in found]


def focus_word(question: str) -> str | None:
    """The thing a question asks for: the noun just before 多少/哪些/什么 (起征点 in 起征点是多少).

    Meta nouns (目标, 标准, 比例 …) are passed over for the noun they qualify.
    """
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


def asked_words(question: str) -> set[str]:
    """What a question asks for rather than what it is about: 号码 in 是什么号码, 奖励 in 有什么奖励."""
    return {m.group(1)[:2] for m in _ASKED_AFTER.finditer(question)}
