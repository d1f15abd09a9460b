"""The run command end to end with fake pipelines: files written, table printed, gate exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_fakes import FakePipeline, passage, result
from llama_index.core.base.response.schema import Response

import eval.__main__ as cli
import eval.pipelines
from eval.bench import bench_table, ratios
from eval.dataset import Question, load_questions
from eval.gate import ThresholdsError, check_gate, load_thresholds
from eval.metrics import METRIC_KEYS
from eval.pipelines import BM25Retriever, ProductPipeline
from eval.runner import run_pipelines

QUESTIONS = [
    {
        "id": "n1",
        "question": "补贴标准？",
        "answerable": True,
        "evidence": ["补贴标准为每人1000元"],
        "answer_keywords": ["1000元"],
        "type": "factoid_number",
        "extra_field": 1,
    },
    {
        "id": "n2",
        "question": "截止日期？",
        "answerable": True,
        "evidence": ["申请截止日期为6月30日"],
        "answer_keywords": ["6月30日"],
        "type": "factoid_number",
    },
    {
        "id": "u1",
        "question": "外资补贴？",
        "answerable": False,
        "evidence": [],
        "answer_keywords": [],
        "type": "unanswerable",
    },
]
A = passage("补贴标准为每人1000元。", "a", file="a.txt", section="第一条")
B = passage("申请截止日期为6月30日。", "b", file="b.txt", section="第二条")
OTHER = passage("与问题无关的段落", "o")


def good_pipeline(name: str = "hybrid") -> FakePipeline:
    return FakePipeline(
        name,
        {
            "n1": result([A, OTHER], "每人1000元[1]。", True, [A]),
            "n2": result([B, OTHER], "6月30日前申请[1]。", True, [B], total_ms=40),
            "u1": result([OTHER], "没有找到。", False, []),
        },
    )


def bad_pipeline(name: str = "hybrid") -> FakePipeline:
    def boom(q):
        raise RuntimeError("index missing")

    return FakePipeline(
        name,
        {
            "n1": result([OTHER], "没有找到。", False, []),
            "n2": boom,
            "u1": result([OTHER], "外资补贴每人100元[1]", True, [OTHER]),
        },
    )


@pytest.fixture
def qfile(tmp_path: Path) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


def use_fakes(monkeypatch: pytest.MonkeyPatch, *pipelines: FakePipeline) -> None:
    monkeypatch.setattr(eval.pipelines, "build_pipelines", lambda names, settings: list(pipelines))


@pytest.fixture(autouse=True)
def _no_default_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run with fake pipelines reads no index: not the checkout's .policy_qa, whatever state it is in."""
    monkeypatch.setenv("POLICY_QA_INDEX_DIR", str(tmp_path / "no-index"))


def test_run_writes_every_file(tmp_path: Path, qfile: Path, monkeypatch, capsys) -> None:
    use_fakes(monkeypatch, good_pipeline(), bad_pipeline("vector"))
    out = tmp_path / "report"
    assert cli.main(["run", "--questions", str(qfile), "--out", str(out), "--no-progress"]) == 0
    assert {p.name for p in out.iterdir()} >= {
        "metrics.json",
        "results.jsonl",
        "report.md",
        "hit_at_k.png",
        "latency.png",
        "by_type.png",
    }
    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    assert metrics["questions"] == 3 and list(metrics["pipelines"]) == ["hybrid", "vector"]
    assert list(metrics["pipelines"]["hybrid"]) == [*METRIC_KEYS, "by_type"]
    assert metrics["pipelines"]["hybrid"]["hit@1"] == 1.0 and metrics["pipelines"]["vector"]["hit@10"] == 0.0
    assert metrics["pipelines"]["vector"]["refusal_accuracy"] == 0.0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text("utf-8").splitlines()]
    assert len(rows) == 6
    row = rows[0]
    assert row["retrieved"][0] == {
        "rank": 1,
        "id": "a",
        "file": "a.txt",
        "section": "第一条",
        "score": 1.0,
        "text": "补贴标准为每人1000元。",
    }
    assert row["citations"][0]["id"] == "a" and row["scores"]["hit@1"] is True
    assert [r["error"] for r in rows if r["pipeline"] == "vector" and r["id"] == "n2"] == [
        "RuntimeError: index missing"
    ]
    report = (out / "report.md").read_text("utf-8")
    for heading in (
        "## Overall",
        "| factoid_number | 2 | hybrid |",
        "| unanswerable | 1 | vector |",
        "## Worst questions",
    ):
        assert heading in report
    assert "answered an unanswerable question" in report and "wrongly refused" in report
    printed = capsys.readouterr().out
    assert "hit@5" in printed and "faithfulness: skipped (no LLM configured)" in printed


def test_gate_passes_and_fails_naming_the_metric(tmp_path: Path, qfile: Path, monkeypatch, capsys) -> None:
    use_fakes(monkeypatch, good_pipeline())
    args = ["run", "--questions", str(qfile), "--out", str(tmp_path / "r1"), "--no-progress", "--gate"]
    assert cli.main(args) == 0
    assert "gate passed" in capsys.readouterr().out

    use_fakes(monkeypatch, bad_pipeline())
    args = ["run", "--questions", str(qfile), "--out", str(tmp_path / "r2"), "--no-progress", "--gate"]
    assert cli.main(args) == 1
    captured = capsys.readouterr()
    assert "FAIL hit@5" in captured.out and "refusal_accuracy" in captured.err


def test_gate_skips_undefined_metrics() -> None:
    summary = dict.fromkeys(METRIC_KEYS, None) | {"hit@5": 0.99, "latency_p95_ms": 2000.0}
    checks = check_gate(
        summary, {"min": {"hit@5": 0.95, "refusal_accuracy": 0.9}, "max": {"latency_p95_ms": 1500}}
    )
    assert [(c.metric, c.passed, c.skipped) for c in checks] == [
        ("hit@5", True, False),
        ("refusal_accuracy", True, True),
        ("latency_p95_ms", False, False),
    ]


def test_shipped_thresholds_load_and_bad_ones_are_named(tmp_path: Path) -> None:
    t = load_thresholds()
    assert t["min"]["hit@5"] == 0.95 and t["max"]["latency_p95_ms"] == 1500
    bad = tmp_path / "t.toml"
    bad.write_text('[min]\n"hit@4" = 0.9\n', "utf-8")
    with pytest.raises(ThresholdsError, match="hit@4"):
        load_thresholds(bad)


def test_bad_question_file_exits_2(tmp_path: Path, capsys) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": "x", "question": "问", "answerable": true}\n{oops\n', "utf-8")
    assert cli.main(["run", "--questions", str(path), "--out", str(tmp_path / "r")]) == 2
    assert f"{path}:2: invalid JSON" in capsys.readouterr().err


def test_unknown_pipeline_exits_2(tmp_path: Path, qfile: Path, capsys) -> None:
    assert (
        cli.main(["run", "--questions", str(qfile), "--compare", "hybrid,magic", "--out", str(tmp_path)]) == 2
    )
    assert "magic" in capsys.readouterr().err


def test_judge_scores_only_answered_rows(qfile: Path) -> None:
    run = run_pipelines(load_questions(qfile), [good_pipeline()], judge=lambda q, res: 0.5, progress=False)
    assert run.faithfulness == {"hybrid": 0.5}
    assert [("faithfulness" in r) for r in run.rows] == [True, True, False]


def test_bm25_retriever_ranks_by_jieba_tokens() -> None:
    nodes = [n.node for n in (OTHER, A, B)]
    hits = BM25Retriever(nodes, top_k=2)("申请截止日期是什么时候")
    assert [h.node.node_id for h in hits] == ["b"]
    assert BM25Retriever(nodes)("") == []


def test_bench_table_and_ratios() -> None:
    product = {"cold_build_s": 10.0, "reindex_s": 0.1, "e2e_p50_ms": 50.0, "peak_rss_mb": 400.0, "chunks": 9}
    baseline = {"cold_build_s": 20.0, "reindex_s": 1.0, "e2e_p50_ms": 25.0, "peak_rss_mb": 500.0}
    r = ratios(product, baseline)
    assert r["cold_build_s"] == 0.5 and r["e2e_p50_ms"] == 2.0 and r["retrieval_p50_ms"] is None
    table = bench_table({"product": product, "baseline": baseline, "ratio": r})
    assert "cold index build (s)" in table and "0.8" in table


class FakeEngine:
    """Stands in for the product's query and chat engines (same Response shape); records calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _response(self, text: str) -> Response:
        return Response(
            response=f"回答：{text}[1]",
            source_nodes=[A],
            metadata={
                "answerable": True,
                "retrieved": [OTHER, A],
                "timings": {"retrieval_ms": 3.0},
                "question": f"standalone {text}",
            },
        )

    def query(self, text: str) -> Response:
        self.calls.append(f"query {text}")
        return self._response(text)

    def chat(self, text: str) -> Response:
        self.calls.append(f"chat {text}")
        return self._response(text)

    def reset(self) -> None:
        self.calls.append("reset")


def test_product_pipeline_replays_history_through_chat(tmp_settings) -> None:
    engine, chat = FakeEngine(), FakeEngine()
    pipe = ProductPipeline(tmp_settings, engine=engine, chat_engine=chat)
    follow = Question(
        id="f",
        question="那聊城呢？",
        answerable=True,
        evidence=("补贴标准为每人1000元",),
        history=("温州呢？",),
    )
    res = pipe.ask(follow)
    assert chat.calls == ["reset", "chat 温州呢？", "chat 那聊城呢？", "reset"] and engine.calls == []
    assert res.cited == [A] and [n.node.node_id for n in res.retrieved] == ["o", "a"]
    assert res.retrieval_ms == 3.0 and res.extra["asked"] == "standalone 那聊城呢？"
    pipe.ask(Question(id="s", question="补贴？", answerable=True))
    assert engine.calls == ["query 补贴？"]
