"""The question-set reader: any EVAL_FORMAT.md file loads, a malformed line is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.dataset import QuestionSetError, load_questions

GOOD = {
    "id": "q1",
    "question": "补贴标准是多少？",
    "answerable": True,
    "evidence": ["补贴标准为每人1000元"],
    "doc": ["a.txt"],
    "answer": "每人1000元",
    "answer_keywords": ["1000元"],
    "type": "factoid_number",
}


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_unknown_fields_ignored_and_optional_fields_default(tmp_path: Path) -> None:
    extra = {**GOOD, "id": "q2", "difficulty": "hard", "notes": {"x": 1}, "history": ["上一个问题"]}
    minimal = {"id": 3, "question": "有没有外资补贴？", "answerable": False}
    qs = load_questions(write(tmp_path, json.dumps(GOOD), "", json.dumps(extra), json.dumps(minimal)))
    assert [q.id for q in qs] == ["q1", "q2", "3"]
    assert qs[0].evidence == ("补贴标准为每人1000元",) and qs[0].type == "factoid_number"
    assert qs[1].history == ("上一个问题",)
    assert qs[2].evidence == () and qs[2].type == "untyped"


def test_limit(tmp_path: Path) -> None:
    lines = [json.dumps({**GOOD, "id": f"q{i}"}) for i in range(5)]
    assert len(load_questions(write(tmp_path, *lines), limit=2)) == 2


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "invalid JSON"),
        (json.dumps({**GOOD, "answerable": "yes"}), "'answerable' must be true or false"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "question"}), "missing required field 'question'"),
        (json.dumps({**GOOD, "evidence": "补贴"}), "'evidence' must be a list of strings"),
        (json.dumps([1, 2]), "expected a JSON object"),
        (json.dumps(GOOD), "duplicate id 'q1' (first on line 1)"),
    ],
)
def test_malformed_line_is_named(tmp_path: Path, bad: str, message: str) -> None:
    path = write(tmp_path, json.dumps(GOOD), "", bad)
    with pytest.raises(QuestionSetError) as err:
        load_questions(path)
    assert f"{path}:3:" in str(err.value)
    assert message in str(err.value)


def test_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(QuestionSetError, match="not found"):
        load_questions(tmp_path / "nope.jsonl")
    with pytest.raises(QuestionSetError, match="no questions"):
        load_questions(write(tmp_path, ""))
