"""``python -m eval diff``: changed answers, citations and scores are listed; unchanged ones are not."""

from __future__ import annotations

from pathlib import Path

from eval_fakes import FakePipeline, passage, result

import eval.__main__ as cli
from eval.dataset import Question
from eval.report import write_run
from eval.runner import run_pipelines

QS = [
    Question(id="same", question="甲？", answerable=True, evidence=("补贴标准为每人1000元",), type="t"),
    Question(id="moved", question="乙？", answerable=True, evidence=("申请截止日期为6月30日",), type="t"),
]
A = passage("补贴标准为每人1000元", "a")
B = passage("申请截止日期为6月30日", "b")


def write(tmp_path: Path, name: str, moved_ok: bool) -> Path:
    moved = result([B], "6月30日[1]", True, [B]) if moved_ok else result([A], "没有找到", False, [])
    pipe = FakePipeline("hybrid", {"same": result([A], "1000元[1]", True, [A]), "moved": moved})
    out = tmp_path / name
    write_run(run_pipelines(QS, [pipe], progress=False), out, plots=False)
    return out


def test_diff_lists_only_changed_questions(tmp_path: Path, capsys) -> None:
    run_a, run_b = write(tmp_path, "a", True), write(tmp_path, "b", False)
    assert cli.main(["diff", str(run_a), str(run_b)]) == 0
    out = capsys.readouterr().out
    assert "hybrid moved" in out and "hybrid same" not in out
    assert "answerable: True -> False" in out
    assert "citations: ['b'] -> []" in out
    assert "hit@1: true -> false" in out
    assert "1 of 2 question/pipeline pairs changed." in out
    assert "hybrid overall: hit@1 1.000 -> 0.500" in out


def test_diff_missing_dir_exits_2(tmp_path: Path, capsys) -> None:
    assert cli.main(["diff", str(tmp_path / "x"), str(tmp_path / "y")]) == 2
    assert "results.jsonl" in capsys.readouterr().err


def test_questions_in_one_run_only_are_grouped(tmp_path: Path) -> None:
    from eval.diff import diff_runs

    run_a = write(tmp_path, "a", True)
    pipe = FakePipeline("hybrid", {"same": result([A], "1000元[1]", True, [A])})
    run_b = tmp_path / "b"
    write_run(run_pipelines(QS[:1], [pipe], progress=False), run_b, plots=False)
    text, changed = diff_runs(run_a, run_b)
    assert "hybrid: 1 question(s) only in A: moved" in text and changed == 1
