"""The fitted answer step: named features, numpy inference equal to sklearn's, calibrated declines, provenance."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from assistant.qa.context import AnswerContext
from assistant.qa.features import clause_windows
from assistant.qa.fitted import DEFAULT_MODEL, FEATURES, AnswerModel, FittedAnswerer


def _passages(*texts: str) -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=t, id_=f"n{i}", metadata={"title": "测试文件", "doc_id": f"d{i}"}),
                      score=1.0 / (i + 1))
        for i, t in enumerate(texts)
    ]


def _model(coef: dict[str, float], threshold: float) -> AnswerModel:
    n = len(FEATURES)
    weights = np.array([coef.get(name, 0.0) for name in FEATURES])
    return AnswerModel(FEATURES, np.zeros(n), np.ones(n), weights, 0.0, threshold, 1.0, 120, {})


def _features(question: str, *texts: str) -> dict[str, dict[str, float]]:
    answerer = FittedAnswerer(_model({}, 0.5))
    return {s.candidate.text: s.features for s in answerer.scored(question, _passages(*texts))}


@pytest.mark.parametrize(
    ("question", "sentence", "feature", "value"),
    [
        ("高新技术企业认定补贴金额是多少元？", "认定为高新技术企业的，给予补贴50万元。", "unit_present", 1.0),
        ("高新技术企业认定补贴金额是多少元？", "认定为高新技术企业的，给予一次性补贴。", "unit_missing", 1.0),
        ("高新技术企业认定补贴金额是多少元？", "认定为高新技术企业的，给予补贴50万元。", "has_number", 1.0),
        ("2023年高新技术企业培育目标是什么？", "2023年培育高新技术企业100家。", "year_match", 1.0),
        ("2023年高新技术企业培育目标是什么？", "2021年培育高新技术企业80家。", "year_match", 0.0),
        ("“科创飞地”在哪里建设？", "科创飞地建设在上海张江。", "quoted_ok", 1.0),
        ("“科创飞地”在哪里建设？", "孵化基地建设在上海张江。", "quoted_ok", 0.0),
        ("高新技术企业认定补贴金额是多少元？", "认定为高新技术企业的，给予补贴50万元。", "rank_prior", 1.0),
        ("2024年高新技术企业培育目标是什么？", "2023年培育高新技术企业100家。", "year_conflict", 1.0),
        ("2023年高新技术企业培育目标是什么？", "2023年培育高新技术企业100家。", "year_conflict", 0.0),
        ("高新技术企业培育目标是什么？", "2023年培育高新技术企业100家。", "year_conflict", 0.0),
        ("高新技术企业认定补贴金额是多少元？", "认定为高新技术企业的，给予补贴50万元。", "bm25", 1.0),
        ("高新技术企业认定补贴金额是多少元？", "认定为高新技术企业的，给予补贴50万元。", "is_window", 0.0),
        ("高新技术企业认定补贴金额是多少元？", "认定为高新技术企业的，给予补贴50万元。", "window_share", 1.0),
    ],
)
def test_named_features(question: str, sentence: str, feature: str, value: float) -> None:
    feats = _features(question, sentence + "另有其他事项另行通知。")
    assert feats[sentence][feature] == value


def test_e5_similarity_comes_from_the_context_and_is_missing_without_it() -> None:
    good, other = "研发费用加计扣除比例提高到100%。", "企业应当按时报送统计报表材料。"
    sims = {(1, good): 0.9, (1, other): 0.7}
    answerer = FittedAnswerer(_model({}, 0.5))
    ctx = AnswerContext(similarity=lambda passages: sims)
    feats = {s.candidate.text: s.features for s in answerer.scored("研发费用加计扣除比例是多少？", _passages(good + other), ctx)}
    assert feats[good]["e5_sim"] == 0.9 and feats[good]["e5_sim_gap"] == 0.0 and feats[good]["e5_top"] == 1.0
    assert feats[other]["e5_sim_gap"] == pytest.approx(0.2) and feats[other]["e5_top"] == 0.0
    assert feats[other]["adjacent_e5"] == 0.9  # the neighbour's similarity
    bare = _features("研发费用加计扣除比例是多少？", good + other)
    assert all(np.isnan(bare[good][k]) for k in ("e5_sim", "e5_sim_gap", "e5_top"))


def test_a_missing_feature_takes_the_training_mean() -> None:
    n = len(FEATURES)
    mean = np.arange(n, dtype=float)
    model = AnswerModel(FEATURES, mean, np.ones(n), np.ones(n), 0.0, 0.5, 1.0, 80, {})
    row = mean.copy()
    row[FEATURES.index("e5_sim")] = np.nan
    assert model.probabilities(np.array([row]))[0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("sentence", "limit", "windows"),
    [
        ("短句。", 80, []),  # one clause: nothing to window
        ("甲方负责，乙方配合，丙方监督。", 80, []),  # within the limit: the sentence itself
        ("对新认定的国家级专精特新小巨人企业给予一次性奖励50万元，对省级专精特新企业给予奖励20万元。", 30,
         ["对新认定的国家级专精特新小巨人企业给予一次性奖励50万元", "对省级专精特新企业给予奖励20万元。"]),
        ("一二三四五，六七八九十，甲乙丙丁戊。", 12, ["一二三四五，六七八九十", "六七八九十，甲乙丙丁戊。"]),
    ],
)
def test_clause_windows(sentence: str, limit: int, windows: list[str]) -> None:
    assert clause_windows(sentence, limit) == windows


def test_a_long_sentence_gets_clause_windows_that_answer_within_the_limit() -> None:
    sentence = ("为进一步优化营商环境，支持中小企业发展，对新认定的国家级专精特新小巨人企业给予一次性奖励50万元，"
                "对省级专精特新企业给予奖励20万元，所需资金由市财政统筹安排。")
    model = replace(_model({"bm25": 3.0, "is_window": 1.0}, threshold=0.5), windows=True, max_chars=40)
    ans = FittedAnswerer(model).answer("省级专精特新企业奖励多少？", _passages(sentence))
    assert ans.answerable
    assert "20万元" in ans.text and len(ans.text) <= 40 + 3


def test_overlap_and_gaps_rank_the_matching_sentence_first() -> None:
    feats = _features("研发费用加计扣除比例是多少？", "研发费用加计扣除比例提高到100%。", "企业应当按时报送统计报表材料。")
    good, bad = feats["研发费用加计扣除比例提高到100%。"], feats["企业应当按时报送统计报表材料。"]
    assert good["char_overlap"] > bad["char_overlap"]
    assert good["char_overlap_gap"] == 0.0 < bad["char_overlap_gap"]
    assert good["rule_score_gap"] == 0.0 < bad["rule_score_gap"]
    assert bad["rank_prior"] == 0.5 and bad["fused_score"] == 0.5
    assert set(good) == set(FEATURES)


def test_numpy_inference_equals_sklearn() -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURES))) * 3 + 1
    y = (x[:, 0] + 0.5 * x[:, 3] + rng.normal(size=200) > 1).astype(int)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    lr = linear_model.LogisticRegression(random_state=0).fit((x - mean) / scale, y)
    model = AnswerModel(FEATURES, mean, scale, lr.coef_[0], float(lr.intercept_[0]), 0.5, 1.0, 120, {})
    np.testing.assert_allclose(model.probabilities(x), lr.predict_proba((x - mean) / scale)[:, 1], rtol=1e-9)


QUESTION = "研发费用加计扣除比例是多少？"
PASSAGES = ("研发费用加计扣除比例提高到100%。企业应当按时报送统计报表材料。",)


def test_declines_below_the_threshold() -> None:
    ans = FittedAnswerer(_model({"char_overlap": 1.0}, threshold=0.99)).answer(QUESTION, _passages(*PASSAGES))
    assert not ans.answerable and not ans.citations


def test_answers_the_most_probable_sentence_with_a_citation() -> None:
    ans = FittedAnswerer(_model({"char_overlap": 5.0}, threshold=0.5)).answer(QUESTION, _passages(*PASSAGES))
    assert ans.answerable
    assert ans.text == "研发费用加计扣除比例提高到100%。[1]"
    assert [c.n for c in ans.citations] == [1]


def test_committed_model_file_names_its_features_and_provenance() -> None:
    data = json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))
    assert set(data["features"]) <= set(FEATURES)  # the chosen variant's features, each computed by name
    assert len(data["coef"]) == len(data["mean"]) == len(data["scale"]) == len(data["features"])
    assert 0 < data["threshold"] < 1
    prov = data["provenance"]
    for key in ("data", "split", "learner", "label", "threshold", "metrics", "command"):
        assert prov[key], key
    model = AnswerModel.load()
    assert model.probabilities(np.array([model.mean])).shape == (1,)


def test_build_answerer_picks_the_fitted_model_only_when_asked() -> None:
    from assistant.qa.engine import build_answerer
    from assistant.qa.extractive import ExtractiveAnswerer
    from assistant.settings import Settings

    rules = build_answerer(Settings(answerer="extractive"))
    fitted = build_answerer(Settings(answerer="extractive", answer_model="fitted"))
    assert type(rules) is ExtractiveAnswerer
    assert isinstance(fitted, FittedAnswerer) and set(fitted.model.features) <= set(FEATURES)


def test_an_index_build_stores_each_chunks_sentence_vectors(small_settings) -> None:  # noqa: ANN001 - fixture
    """Sentence vectors are written per segment, found again by chunk and sentence text, and the question's
    similarity to them is the cosine of the same embedder's query and passage vectors."""
    from assistant.index.build import update_index
    from assistant.index.catalog import open_catalog
    from assistant.index.sentences import node_sentences, question_similarity

    settings = small_settings.model_copy(update={"answer_model": "fitted"})  # vectors unset: on for fitted
    update_index(settings, progress=False)
    cat = open_catalog(settings)
    similarity = question_similarity(cat, "首次升规的企业奖励多少")
    assert similarity is not None
    passages = [NodeWithScore(node=n, score=1.0) for n in cat.nodes.values()]
    sims = similarity(passages)
    expected = {(k, s) for k, p in enumerate(passages, start=1) for s in node_sentences(p.node)}
    assert set(sims) == expected and len(expected) >= 5
    sentence = next(s for (_, s) in sims if "首次升规" in s)
    q = np.asarray(cat.embedder.get_query_embedding("首次升规的企业奖励多少"))
    v = np.asarray(cat.embedder.get_text_embedding(sentence))
    direct = float(q @ v / np.linalg.norm(q) / np.linalg.norm(v))
    k = next(k for (k, s) in sims if s == sentence)
    assert sims[(k, sentence)] == pytest.approx(direct, abs=2e-3)  # stored as float16
    assert max(sims.values()) == sims[(k, sentence)]


def test_sentence_vectors_off_writes_none_and_the_similarity_is_missing(small_settings) -> None:  # noqa: ANN001
    from assistant.index.build import update_index
    from assistant.index.catalog import open_catalog
    from assistant.index.sentences import question_similarity

    rules = small_settings  # unset with the rules answering: no sentence is embedded
    off = small_settings.model_copy(update={"answer_model": "fitted", "answer_sentence_vectors": False,
                                            "index_dir": small_settings.index_dir.with_name("index-off")})
    for settings in (rules, off):
        update_index(settings, progress=False)
        assert not list(settings.index_dir.glob("builds/*/sentences.npy"))
        assert question_similarity(open_catalog(settings), "首次升规的企业奖励多少") is None


def test_sentence_vectors_are_written_a_batch_at_a_time_with_the_same_result(small_settings, tmp_path) -> None:  # noqa: ANN001
    """The writer streams (one batch of chunks in memory): a batch of one chunk writes what one batch of all does."""
    from assistant.index.build import update_index

    found = {}
    for batch in (1, 100_000):
        settings = small_settings.model_copy(update={
            "answer_model": "fitted", "index_dir": tmp_path / f"b{batch}",
            "indexing": small_settings.indexing.model_copy(update={"build_batch_passages": batch})})
        update_index(settings, progress=False)
        (folder,) = {p.parent for p in settings.index_dir.glob("builds/*/sentences.npy")}
        found[batch] = (np.load(folder / "sentences.npy"), np.load(folder / "sentence_rows.npy"))
        assert not list(folder.glob("*.part")) and not list(folder.glob("*.tmp.npy"))
    (v1, r1), (v2, r2) = found[1], found[100_000]
    assert v1.dtype == np.float16 and v1.shape[0] == r1[-1] > 5
    assert np.array_equal(v1, v2) and np.array_equal(r1, r2)
