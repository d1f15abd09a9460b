"""Chinese text normalisation and tokenisation shared by indexing, retrieval, answering and eval.

One place decides what "the same text" means, so a Traditional passage matches a Simplified
query and the eval matching rule is the one the product is built around.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
import unicodedata
from functools import lru_cache

from assistant.core.lexicon import data_text
from assistant.core.lexicon import words as data_words

logger = logging.getLogger(__name__)

_CJK = r"\u3400-\u9fff"
_MATCH_DROP = re.compile(rf"[^{_CJK}0-9]+")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _s2t():
    import opencc

    return opencc.OpenCC("s2t")


def to_simplified(text: str) -> str:
    return _t2s().convert(text) if text else text


def to_traditional(text: str) -> str:
    return _s2t().convert(text) if text else text


def to_halfwidth(text: str) -> str:
    """Full-width ASCII (Ａ１２％) to half-width; keeps CJK punctuation such as 。，、 as is."""
    out = []
    for ch in text:
        code = ord(ch)
        if code == 0x3000:
            out.append(" ")
        elif 0xFF01 <= code <= 0xFF5E and ch not in "（），：；！？":
            out.append(chr(code - 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def search_form(text: str) -> str:
    """The form both queries and passages take before BM25 and embedding: Simplified, half-width."""
    return to_simplified(to_halfwidth(unicodedata.normalize("NFC", text)))


def match_normalize(text: str) -> str:
    """EVAL_FORMAT matching rule: Traditional -> Simplified, keep only CJK ideographs and ASCII digits."""
    return _MATCH_DROP.sub("", to_simplified(text or ""))


def is_traditional(text: str) -> bool:
    """True when converting to Simplified changes a noticeable share of the Han characters."""
    han = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not han:
        return False
    simp = to_simplified("".join(han))
    changed = sum(1 for a, b in zip(han, simp, strict=False) if a != b)
    return changed >= max(1, len(han) // 12)


@lru_cache(maxsize=1)
def policy_terms() -> tuple[str, ...]:
    """The policy dictionary jieba learns (data/policy_terms.txt): one word a line, ``#`` comments."""
    raw = data_text("policy_terms.txt")
    return tuple(dict.fromkeys(w.strip() for w in raw.splitlines() if w.strip() and not w.startswith("#")))


@lru_cache(maxsize=1)
def _jieba():
    """A jieba tokenizer with the policy dictionary; added in every process that tokenises."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.tmp_dir = tempfile.gettempdir()
    for word in policy_terms():
        tok.add_word(word, freq=200000)
    with _lock:
        tok.initialize()
    return tok


@lru_cache(maxsize=1)
def pos_tokenizer():  # noqa: ANN201 - jieba has no types
    """jieba's part-of-speech tokenizer over the policy dictionary, built once per process.

    Building one reloads jieba's dictionary (~0.3-1 s), so a new one per document made reading a folder of
    short documents take minutes.
    """
    import jieba.posseg

    return jieba.posseg.POSTokenizer(_jieba())


_TOKEN_DROP = re.compile(rf"^[^{_CJK}0-9a-zA-Z]+$")
STOPWORDS = frozenset(data_words("text", "tokens.stopwords"))  # data/text.toml


def tokenize(text: str) -> list[str]:
    """Tokens for BM25: jieba search-mode words of the search form, lower-cased, no stopwords."""
    form = search_form(text).lower()
    tokens = []
    for tok in _jieba().cut_for_search(form):
        tok = tok.strip()
        if not tok or _TOKEN_DROP.match(tok) or tok in STOPWORDS:
            continue
        tokens.append(tok)
    return tokens


def words(text: str) -> list[str]:
    """Whole words (jieba accurate mode) of the search form, lower-cased: the concepts of a question."""
    return [w.strip() for w in _jieba().cut(search_form(text).lower(), HMM=False) if w.strip()]


def sub_words(word: str) -> list[str]:
    """The shorter dictionary words inside a compound (个人所得税 -> 个人, 所得, 所得税)."""
    return [w for w in _jieba().cut_for_search(word) if w != word and len(w) >= 2]


# Linear on long runs: no start inside a run of spaces, the year starts a digit run or is its last four
# digits, and whitespace is possessive (tests/test_patterns.py).
DOC_NUMBER_PARTS = re.compile(
    r"(?:(?<!\s)|(?!\s))([\u4e00-\u9fff]{0,8})[〔\[［(（]?\s*+((?:(?<!\d)|(?=\d{4}(?!\d)))\d{4})"
    r"\s*+[〕\]］)）年]?\s*+第?\s*+(\d+)\s*+号"
)


def doc_number_key(doc_number: str) -> tuple[str, str, str] | None:
    """(issuer prefix, year, serial) so 乐政办发〔2023〕43号 and 乐政办发[2023]43号 compare equal."""
    m = DOC_NUMBER_PARTS.search(search_form(doc_number))
    return (m.group(1), m.group(2), m.group(3)) if m else None
