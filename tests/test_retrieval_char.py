"""The character n-gram leg (assistant/index/sparse.py, assistant/retrieval/legs.py): its tokens, its counts
kept per segment like the word leg's, its scores equal to bm25s's, and what it finds that the word leg
cannot because of how jieba cut a word."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.core.text import tokenize
from assistant.index.postings import Postings, char_grams
from assistant.index.sparse import SegmentedBM25, char_bm25, live_segment


@pytest.mark.parametrize(
    ("text", "sizes", "expected"),
    [
        ("开小店", (1, 2), ["开", "小", "店", "开小", "小店"]),
        ("开小店", (2,), ["开小", "小店"]),
        # never across punctuation or spaces
        ("小店，补贴", (2,), ["小店", "补贴"]),
        ("小店 补贴", (2,), ["小店", "补贴"]),
        # a run of digits or Latin letters is one unit, lower-cased; full-width and Traditional are folded
        ("2023年", (1, 2), ["2023", "年", "2023年"]),
        ("ＡＢ补貼", (1, 2), ["ab", "补", "贴", "ab补", "补贴"]),
        # one character: no bigram; nothing to count: nothing
        ("店", (1, 2), ["店"]),
        ("，。！", (1, 2), []),
        ("", (1, 2), []),
    ],
)
def test_char_grams(text: str, sizes: tuple[int, ...], expected: list[str]) -> None:
    assert char_grams(text, sizes) == expected


def test_char_grams_do_not_depend_on_segmentation() -> None:
    """The same characters give the same grams whatever the words around them: 个体工商户 inside a sentence
    holds every gram of 工商户 asked on its own (jieba's words need not agree)."""
    inside = set(char_grams("对新开办的个体工商户给予开办补贴"))
    assert set(char_grams("工商户")) <= inside


TEXTS = [
    "大力推广合同贷、专精特新贷、技改贷及网上快易贷等信贷产品。",
    "鼓励银行创新金融产品和服务方式。",
    "支持企业开拓国内外市场，参加各类展会。",
    "推动泉州银行在全国首创“无间贷”产品。",
]


def _postings(texts: list[str]) -> Postings:
    return Postings.from_tokens([tokenize(t) or [""] for t in texts], texts)


def _legs(texts: list[str]) -> tuple[SegmentedBM25, SegmentedBM25]:
    p = _postings(texts)
    words = SegmentedBM25([live_segment(p, np.ones(p.rows, bool), np.arange(p.rows))], p.rows)
    chars = char_bm25(words)
    assert chars is not None
    return words, chars


def test_char_leg_scores_as_bm25s_does() -> None:
    """The character leg is bm25s (lucene, k1=1.5, b=0.75) over the passages' character n-grams."""
    import bm25s

    _, chars = _legs(TEXTS)
    reference = bm25s.BM25()
    reference.index([char_grams(t) for t in TEXTS], show_progress=False)
    query = [g for g in dict.fromkeys(char_grams("有没有易贷这种产品")) if g in chars.vocabulary]
    assert np.allclose(chars.get_scores(query), reference.get_scores(query), rtol=1e-6)


@pytest.mark.parametrize(
    ("question", "passage"),
    [
        # jieba keeps 快易贷 whole in the passage but cuts 易贷 alone in the question
        ("有没有易贷这种产品", 0),
        # the question is cut 无间 / 贷是; the passage 无间 / 贷: no word but 无间 is shared, and 产品 pulls
        # the word leg toward the other 产品 passages
        ("间贷是什么产品", 3),
    ],
)
def test_char_leg_finds_what_segmentation_hides_from_the_word_leg(question: str, passage: int) -> None:
    words, chars = _legs(TEXTS)
    word_scores = words.get_scores([t for t in tokenize(question) if t in words.vocabulary])
    char_scores = chars.get_scores([g for g in dict.fromkeys(char_grams(question)) if g in chars.vocabulary])
    assert int(np.argmax(char_scores)) == passage
    assert int(np.argmax(word_scores)) != passage


def test_char_counts_travel_with_the_segment(tmp_path: Path) -> None:
    """Saved, loaded and merged with the word counts (a merge copies them, never re-reads the text); an
    index written before them has none, and then no character leg."""
    p = _postings(TEXTS)
    p.save(tmp_path / "bm25")
    loaded = Postings.load(tmp_path / "bm25")
    assert loaded.char is not None and loaded.char.vocab == p.char.vocab  # type: ignore[union-attr]
    merged = Postings.concat([(loaded, np.array([3, 0])), (p, np.array([1]))])
    direct = _postings([TEXTS[3], TEXTS[0], TEXTS[1]])
    assert merged.char is not None and direct.char is not None
    assert sorted(merged.char.vocab) == sorted(direct.char.vocab)
    assert merged.char.lengths.tolist() == direct.char.lengths.tolist()

    old = Postings.from_tokens([tokenize(t) for t in TEXTS])  # no texts: counts of words only
    old.save(tmp_path / "old")
    assert Postings.load(tmp_path / "old").char is None
    assert Postings.concat([(old, np.arange(old.rows)), (p, np.arange(p.rows))]).char is None
    words = SegmentedBM25([live_segment(old, np.ones(old.rows, bool), np.arange(old.rows))], old.rows)
    assert char_bm25(words) is None


def test_char_leg_counts_only_live_passages() -> None:
    """A replaced passage's grams no longer count, exactly as for the word leg."""
    p = _postings(TEXTS)
    live = np.array([True, True, True, False])
    position = np.where(live, np.cumsum(live) - 1, -1)
    words = SegmentedBM25([live_segment(p, live, position)], 3)
    chars = char_bm25(words)
    assert chars is not None
    assert chars.document_frequency("无间") == 0
    fresh = _legs(TEXTS[:3])[1]
    assert np.allclose(chars.get_scores(["易贷", "产品"]), fresh.get_scores(["易贷", "产品"]))
    assert "无间" not in chars.vocabulary and "易贷" in chars.vocabulary and "" in chars.vocabulary
    assert set(chars.vocabulary) == set(fresh.vocabulary)


@pytest.mark.parametrize(
    ("counts", "dtype"),
    [([1, 2, 255], np.uint8), ([1, 256], np.uint16), ([65535], np.uint16), ([65536, 1], np.int32), ([], np.uint8)],
)
def test_counts_are_kept_in_the_narrowest_type_and_load_unchanged(counts: list[int], dtype: type,
                                                                 tmp_path: Path) -> None:
    """Term counts shrink to a byte where they fit (most of a large index's memory), without changing a value."""
    from assistant.index.postings import compact_counts

    packed = compact_counts(np.array(counts, dtype=np.int32))
    assert packed.dtype == dtype and packed.tolist() == counts
    tokens = [["词"] * c for c in counts] or [[""]]
    p = Postings.from_tokens(tokens)
    p.save(tmp_path / "bm25")
    loaded = Postings.load(tmp_path / "bm25")
    assert loaded.counts.dtype == compact_counts(p.counts).dtype
    assert loaded.counts.tolist() == p.counts.tolist()
