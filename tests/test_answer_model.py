"""The fitted answer step: named features, numpy inference equal to sklearn's, calibrated declines, provenance."""

from __future__ import annotations

import json

import numpy as np
import pytest
from llama_index.core.schema import NodeWithScore, TextNode

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
    ],
)
def test_named_features(question: str, sentence: str, feature: str, value: float) -> None:
    feats = _features(question, sentence + "另有其他事项另行通知。")
    assert feats[sentence][feature] == value


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
    assert tuple(data["features"]) == FEATURES
    assert len(data["coef"]) == len(data["mean"]) == len(data["scale"]) == len(FEATURES)
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
    assert isinstance(fitted, FittedAnswerer) and fitted.model.features == FEATURES
