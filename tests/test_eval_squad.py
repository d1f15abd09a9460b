"""SQuAD-style sets through the eval harness: loading, the article split, negatives, ``run --squad``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT
from eval import squad
from eval.dataset import Question
from eval.metrics import score_question

RC_DIR = PROJECT_ROOT.parent / "shared" / "data" / "reading-comprehension"

# Three articles, one in Traditional Chinese; two paragraphs each so the negatives corpus keeps siblings.
TINY = {
    "version": "tiny",
    "data": [
        {
            "id": "A1",
            "title": "长江",
            "paragraphs": [
                {
                    "id": "A1-1",
                    "context": "长江是中国第一长河。全长约6300公里，流经十一个省级行政区。",
                    "qas": [
                        {"id": "A1-1-1", "question": "长江全长多少公里？",
                         "answers": [{"text": "约6300公里"}]},
                    ],
                },
                {
                    "id": "A1-2",
                    "context": "三峡大坝位于湖北省宜昌市。大坝于2006年全线建成。",
                    "qas": [
                        {"id": "A1-2-1", "question": "三峡大坝何时建成？",
                         "answers": [{"text": "2006年"}]},
                    ],
                },
            ],
        },
        {
            "id": "B2",
            "title": "臺北捷運",
            "paragraphs": [
                {
                    "id": "B2-1",
                    "context": "臺北捷運於1996年通車。文湖線是第一條通車的路線。",
                    "qas": [
                        {"id": "B2-1-1", "question": "臺北捷運哪一年通車？",
                         "answers": [{"text": "1996年"}, {"text": "1996"}]},
                        {"id": "B2-1-2", "question": "第一條通車的路線是哪一條？",
                         "answers": [{"text": "文湖線"}, {"text": "木柵線"}]},
                    ],
                },
                {
                    "id": "B2-2",
                    "context": "淡水信義線連接淡水與象山。每日運量超過五十萬人次。",
                    "qas": [
                        {"id": "B2-2-1", "question": "淡水信義線每日運量多少？",
                         "answers": [{"text": "超過五十萬人次"}]},
                    ],
                },
            ],
        },
        {
            "id": "C3",
            "title": "熊猫",
            "paragraphs": [
                {
                    "id": "C3-1",
                    "context": "大熊猫主要以竹子为食。野生大熊猫约有1800只。",
                    "qas": [
                        {"id": "C3-1-1", "question": "野生大熊猫有多少只？",
                         "answers": [{"text": "约有1800只"}]},
                    ],
                },
                {
                    "id": "C3-2",
                    "context": "成都大熊猫繁育研究基地成立于1987年。",
                    "qas": [
                        {"id": "C3-2-1", "question": "成都大熊猫繁育研究基地哪年成立？",
                         "answers": [{"text": "1987年"}]},
                    ],
                },
            ],
        },
    ],
}


for _article in TINY["data"]:  # answer_start as annotators give it (-1 when the text is not in the paragraph)
    for _para in _article["paragraphs"]:
        for _qa in _para["qas"]:
            for _a in _qa["answers"]:
                _a["answer_start"] = _para["context"].find(_a["text"])


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY, ensure_ascii=False), encoding="utf-8")
    return path


def test_loader_maps_every_question_to_its_paragraph_sentence_and_gold_answers(tiny: Path) -> None:
    paras = squad.load_squad(tiny)
    assert [p.file for p in paras] == ["A1_00.txt", "A1_01.txt", "B2_00.txt", "B2_01.txt", "C3_00.txt", "C3_01.txt"]
    qs = {q.id: q for p in paras for q in p.questions}
    assert len(qs) == 7 and all(q.answerable and q.keywords_any for q in qs.values())
    assert qs["A1-1-1"].evidence == ("全长约6300公里，流经十一个省级行政区。",)
    assert qs["A1-1-1"].doc == ("A1_00.txt",)
    assert qs["B2-1-1"].answer_keywords == ("1996年", "1996")  # duplicates dropped, order kept
    assert qs["B2-1-2"].evidence == ("文湖線是第一條通車的路線。",)  # Traditional text kept as written
    assert paras[2].title == "臺北捷運"


@pytest.mark.parametrize(
    ("context", "start", "answer", "sentence"),
    [
        ("甲。乙丙丁。戊。", 2, "丙", "乙丙丁。"),
        ("甲。乙丙丁。戊。", -1, "丙", "乙丙丁。"),  # bad answer_start: first occurrence
        ("甲。乙丙。丁戊。", 2, "丙。丁", "乙丙。丁戊。"),  # an answer across sentences keeps both
        ("他說「好。」然後走了", 2, "好", "他說「好。」"),  # closing quote stays with its sentence
        ("没有句号的段落", 2, "句号", "没有句号的段落"),
        ("甲。乙。", 0, "丙", ""),  # answer not in the paragraph: no evidence
    ],
)
def test_answer_sentence(context: str, start: int, answer: str, sentence: str) -> None:
    assert squad.answer_sentence(context, start, answer) == sentence


def test_any_gold_answer_counts_as_the_keyword() -> None:
    q = Question(id="q", question="?", answerable=True, answer_keywords=("文湖線", "木柵線"), keywords_any=True)
    score = lambda text: score_question(  # noqa: E731
        q, retrieved=[], answer_text=text, answerable=True, cited=[], retrieval_ms=None, total_ms=None
    )
    assert score("第一條是木柵線。")["keyword_recall"] == 1.0
    assert score("第一條是木柵線。")["missing_keywords"] == []
    assert score("不知道")["keyword_recall"] == 0.0
    assert score("不知道")["missing_keywords"] == ["文湖線", "木柵線"]
    all_of = Question(id="q", question="?", answerable=True, answer_keywords=("文湖線", "木柵線"))
    assert score_question(all_of, retrieved=[], answer_text="木柵線", answerable=True, cited=[],
                          retrieval_ms=None, total_ms=None)["keyword_recall"] == 0.5


def test_split_is_by_article_stable_and_about_half(zygote) -> None:
    ids = [f"article-{i}" for i in range(2000)]
    parts = [squad.split_of(a) for a in ids]
    assert set(parts) == {"fit", "heldout"}
    assert 0.45 < parts.count("fit") / len(ids) < 0.55
    # Stable across processes and machines (a keyed sha256, not Python's salted hash()).
    code = "from eval.squad import split_of; print(','.join(split_of(f'article-{i}') for i in range(50)))"
    other = zygote.run(code, dict(os.environ))  # another process, another hash salt (tests/forking.py)
    assert other.returncode == 0, other.output[-2000:]
    assert other.output.strip().split(",") == parts[:50]


def test_split_never_puts_an_article_in_both_parts(tiny: Path) -> None:
    paras = squad.load_squad(tiny)
    fit, held = squad.select(paras, "fit"), squad.select(paras, "heldout")
    assert len(fit) + len(held) == len(paras) == len(squad.select(paras, "all"))
    assert not {p.article_id for p in fit} & {p.article_id for p in held}


def test_negatives_remove_paragraphs_and_mark_their_questions_unanswerable(tiny: Path) -> None:
    paras = squad.load_squad(tiny)
    kept, negs = squad.negatives(paras)
    removed = {p.file for p in paras} - {p.file for p in kept}
    assert removed and kept, "the tiny set needs removed and kept paragraphs"
    assert {q.doc[0] for q in negs} == removed
    assert all(not q.answerable and not q.evidence and q.id.endswith("#removed") for q in negs)
    assert all(q.type in (squad.REMOVED, squad.REMOVED_ELSEWHERE) for q in negs)


def test_sample_spreads_over_articles_and_is_stable() -> None:
    qs = [Question(id=f"{a}-{i}", question="?", answerable=True) for a in "ABCDEFGH" for i in range(10)]
    first = squad.sample(qs, 16)
    assert first == squad.sample(list(reversed(qs)), 16)
    assert len({q.id.split("-")[0] for q in first}) >= 5
    assert squad.sample(qs, None) == qs


def test_run_squad_end_to_end(tiny: Path, tmp_path: Path) -> None:
    """Real index (six passages, real embedder), real engine; negatives asked of a second index."""
    from eval.__main__ import main

    out = tmp_path / "run"
    code = main(["run", "--squad", str(tiny), "--split", "all", "--negatives", "--out", str(out), "--no-progress"])
    assert code == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text("utf-8").splitlines()]
    kept, negs = squad.negatives(squad.load_squad(tiny))
    assert len(rows) == 7 + len(negs) and {r["pipeline"] for r in rows} == {"hybrid"}
    assert sum(r["expected_answerable"] for r in rows) == 7
    assert {r["id"] for r in rows if not r["expected_answerable"]} == {q.id for q in negs}
    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    assert metrics["questions"] == 7 + len(negs)
    assert metrics["pipelines"]["hybrid"]["refusal_accuracy"] is not None  # negatives are scored
    assert metrics["pipelines"]["hybrid"]["hit@10"] is not None
    summary = json.loads((out / "squad.json").read_text("utf-8"))
    assert summary["indexes"]["main"]["paragraphs"] == 6
    assert summary["indexes"]["negatives"]["paragraphs"] == len(kept)
    assert summary["indexes"]["negatives"]["embedded"] == 0  # vectors shared with the main index
    assert summary["headline"]["hybrid"]["negatives"] == len(negs)
    assert sorted(p.name for p in (out / "corpus-negatives").glob("*.txt")) == sorted(p.file for p in kept)
    assert (out / "report.md").is_file() and len((out / "questions.jsonl").read_text("utf-8").splitlines()) == 7 + len(negs)


def test_bad_squad_file_exits_2(tmp_path: Path) -> None:
    from eval.__main__ import main

    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "x"}', encoding="utf-8")
    assert main(["run", "--squad", str(bad), "--out", str(tmp_path / "o"), "--no-progress"]) == 2


@pytest.mark.skipif(not RC_DIR.is_dir(), reason=f"{RC_DIR} absent (reading-comprehension sets are not shipped)")
@pytest.mark.parametrize(("name", "paragraphs", "questions"), [("cmrc2018_trial.json", 256, 1002), ("DRCD_test.json", 1000, 3493)])
def test_shared_sets_load_and_split_by_article(name: str, paragraphs: int, questions: int) -> None:
    paras = squad.load_squad(RC_DIR / name)
    assert len(paras) == paragraphs and sum(len(p.questions) for p in paras) == questions
    fit, held = squad.select(paras, "fit"), squad.select(paras, "heldout")
    assert fit and held and not {p.article_id for p in fit} & {p.article_id for p in held}
    assert all(q.evidence_norm for p in paras for q in p.questions)  # every question has its sentence


def test_v2_impossible_questions_and_clashing_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = {"data": [
        {"id": "a/b", "title": "甲", "paragraphs": [{"context": "甲乙丙。", "qas": [
            {"id": "x", "question": "丁是什么？", "is_impossible": True, "answers": []},
            {"id": "y", "question": "甲后面是什么？", "answers": [{"text": "乙", "answer_start": 1}]}]}]},
        {"id": "a-b", "title": "乙", "paragraphs": [{"context": "丁戊己。", "qas": [
            {"id": "y", "question": "丁后面是什么？", "answers": [{"text": "戊", "answer_start": 1}]}]}]},
    ]}
    path = tmp_path / "v2.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    paras = squad.load_squad(path)
    assert [p.file for p in paras] == ["a-b_00.txt", "a-b-1_00.txt"]  # ids that sanitise alike stay apart
    qs = [q for p in paras for q in p.questions]
    assert [(q.id, q.answerable, q.type) for q in qs] == [
        ("x", False, "unanswerable"), ("y", True, squad.ANSWERABLE), ("y'", True, squad.ANSWERABLE)]
    monkeypatch.setattr(squad, "is_removed", lambda file: True)
    kept, negs = squad.negatives(paras)
    assert not kept and [q.id for q in negs] == ["y#removed", "y'#removed"]  # no negative of a v2 negative


def test_keywords_match_field() -> None:
    from eval.dataset import parse_question

    base = {"id": "1", "question": "?", "answerable": True, "answer_keywords": ["甲", "乙"]}
    assert parse_question({**base, "keywords_match": "any"}).keywords_any
    assert not parse_question(base).keywords_any
    with pytest.raises(ValueError, match="keywords_match"):
        parse_question({**base, "keywords_match": "some"})
