"""Question-to-candidate alignment features: asked kind, the question's content, what the answer adds."""

from __future__ import annotations

import math

import pytest

from assistant.qa.feature_align import ALIGN_FEATURES, RANK_FEATURES, align, asked_kind, content_runs, extend
from assistant.qa.fitted import DEFAULT_MODEL, FEATURES, AnswerModel


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("范廷颂是什么时候被任为主教的？", "date"),
        ("基督教神学院兴建于哪一年？", "date"),
        ("澳門的面積有多少平方公里？", "number"),  # Traditional, read through the search form
        ("長柄艾納香的花期約是幾個月？", "number"),
        ("誰是第一任總統？", "person"),
        ("乍都节公园位于什么地方？", "place"),
        ("日本国铁为什么设计211系？", "reason"),
        ("这种植物又叫什么？", "name"),
        ("软枝黄蝉的花有什么特点？", None),
    ],
)
def test_asked_kind(question: str, kind: str | None) -> None:
    assert asked_kind(question) == kind


def test_content_runs_drop_question_words_and_read_traditional_as_simplified() -> None:
    assert content_runs("澳門的面積有甚麼特點？") == ["澳门", "面积有", "特点"]


def _align(question: str, texts: list[str]) -> list[dict[str, float]]:
    return align(question, texts, texts, [1] * len(texts))


def test_the_asked_kind_counts_only_outside_the_part_the_question_repeats() -> None:
    q = "基督教神学院兴建于哪一年？"
    answer, echo = "基督教神学院兴建于1889年。", "1980年的报道说基督教神学院兴建。"
    rows = _align(q, [answer, "基督教神学院位于底特律。", echo])
    assert rows[0]["type_in_rest"] == 1.0 and rows[0]["type_missing"] == 0.0
    assert rows[1]["type_in_rest"] == 0.0 and rows[1]["type_missing"] == 1.0
    assert rows[0]["lcs_share"] == 1.0  # the whole content run is repeated
    assert 0.0 < rows[0]["rest_share"] < 1.0


def test_a_word_every_sentence_repeats_weighs_less_than_the_asked_predicate() -> None:
    q = "长柄艾纳香的花期是几月？"
    lead, answer = "长柄艾纳香为菊科艾纳香属的植物。", "花期1-3月。"
    rows = _align(q, [lead, "长柄艾纳香叶互生。", answer])
    assert rows[2]["beyond_lead"] == 1.0 and rows[0]["beyond_lead"] == 0.0  # the predicate, not the topic
    assert rows[0]["is_lead"] == 1.0 and rows[2]["is_lead"] == 0.0
    assert rows[2]["q_bigram_local"] > 0.0


def test_ranks_are_relative_to_the_question_candidates_and_missing_stays_missing() -> None:
    texts = ["甲乙丙丁。", "甲乙。", "戊己。"]
    rows = [{"e5_sim": 0.9}, {"e5_sim": 0.8}, {"e5_sim": math.nan}]
    extend("甲乙丙丁是什么？", texts, texts, [1, 1, 2], rows)
    assert rows[0]["rank_e5_sim"] == 1.0 and rows[1]["rank_e5_sim"] == 0.5
    assert math.isnan(rows[2]["rank_e5_sim"])
    assert rows[0]["rank_q_bigram_cover"] == 1.0 and rows[2]["rank_q_bigram_cover"] < 1.0
    assert set(ALIGN_FEATURES) | set(RANK_FEATURES) <= set(rows[0])


def test_the_committed_model_reads_only_features_the_answerer_computes() -> None:
    assert set(AnswerModel.load(DEFAULT_MODEL).features) <= set(FEATURES)


def test_fitting_rescores_cached_records_from_their_texts() -> None:
    from eval.fit_answerer import refeature

    record = {"q": "基督教神学院兴建于哪一年？", "cands": [
        {"t": "基督教神学院兴建于1889年。", "s": "基督教神学院兴建于1889年。", "p": 1, "f": {"e5_sim": None}},
        {"t": "基督教神学院位于底特律。", "s": "基督教神学院位于底特律。", "p": 1, "f": {"e5_sim": None}},
    ]}
    refeature([record])
    first, second = (c["f"] for c in record["cands"])
    assert first["type_in_rest"] == 1.0 and second["type_in_rest"] == 0.0
    assert math.isnan(first["rank_e5_sim"])  # a missing e5 similarity stays missing


def test_the_threshold_keeps_a_sampling_margin_above_the_declined_share() -> None:
    import numpy as np

    from eval.fit_model import NEGATIVES_MARGIN_SE, RC_NEGATIVES_DECLINED, choose_threshold

    negatives = [({"source": "cmrc", "answerable": False, "cands": [{"f": {"admissible": 0.0}}]},
                  np.array([k / 100])) for k in range(100)]
    target = RC_NEGATIVES_DECLINED + NEGATIVES_MARGIN_SE * np.sqrt(RC_NEGATIVES_DECLINED * 0.15 / 100)
    threshold = choose_threshold(negatives, None)
    assert np.mean([p[0] < threshold for _, p in negatives]) >= target
