"""Checks on the project's evaluation question set, eval/questions.jsonl (format: shared/EVAL_FORMAT.md).

Every evidence string must be a verbatim passage of one of its documents and every keyword of an
answerable question must occur in those documents, both under the EVAL_FORMAT matching rule
(``match_normalize``). Documents are read through corpus/manifest.toml's ``source_seed`` mapping
when the manifest exists, else straight from ../shared/seeds.
"""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from functools import cache, lru_cache
from pathlib import Path

import pytest

from assistant.core.text import match_normalize
from assistant.settings import PROJECT_ROOT

QUESTIONS = PROJECT_ROOT / "eval" / "questions.jsonl"
SEEDS_DIR = PROJECT_ROOT.parent / "shared" / "seeds"
CORPUS_DIR = PROJECT_ROOT / "corpus"
MANIFEST = CORPUS_DIR / "manifest.toml"

REQUIRED = {
    "id": str,
    "question": str,
    "answerable": bool,
    "evidence": list,
    "doc": list,
    "answer": str,
    "answer_keywords": list,
    "type": str,
}
TYPES = (
    "factoid_number",
    "entity",
    "list",
    "procedure",
    "comparison_multi_doc",
    "ndrc_first_city",
    "traditional_query",
    "english_query",
    "followup",
    "unanswerable",
)
MIN_TOTAL = 120
MIN_UNANSWERABLE = 20
MIN_PER_DOC = 15
FILE_KEYS = ("file", "path", "filename", "name", "corpus_file", "target", "dest")


@lru_cache(maxsize=1)
def load_questions() -> list[dict]:
    rows = []
    for n, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - message for the failing line
                raise AssertionError(f"{QUESTIONS.name} line {n} is not valid JSON: {exc}") from exc
    return rows


def _manifest_entries(node, key: str | None = None):
    """(corpus file, seed name) pairs from any dict carrying ``source_seed``, however the TOML nests them."""
    if isinstance(node, dict):
        if isinstance(node.get("source_seed"), str):
            corpus_file = next((node[k] for k in FILE_KEYS if isinstance(node.get(k), str)), key)
            if corpus_file:
                yield corpus_file, node["source_seed"]
        for k, v in node.items():
            if isinstance(v, dict | list):
                yield from _manifest_entries(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from _manifest_entries(item, key)


def _resolve_corpus_file(name: str) -> Path | None:
    for candidate in (CORPUS_DIR / name, PROJECT_ROOT / name, CORPUS_DIR / Path(name).name):
        if candidate.is_file():
            return candidate
    return None


@lru_cache(maxsize=1)
def doc_paths() -> dict[str, Path]:
    """Seed file name -> file to read: the corpus copy named by the manifest, else the shared seed."""
    paths = {p.name: p for p in SEEDS_DIR.glob("*.txt")}
    if MANIFEST.is_file():
        data = tomllib.loads(MANIFEST.read_text(encoding="utf-8"))
        for corpus_file, seed in _manifest_entries(data):
            path = _resolve_corpus_file(corpus_file)
            if path is not None:
                paths[Path(seed).name] = path
    return paths


@cache
def normalized_doc(name: str) -> str:
    path = doc_paths().get(name)
    assert path is not None, f"document {name!r} is neither in {SEEDS_DIR} nor mapped by {MANIFEST}"
    return match_normalize(path.read_text(encoding="utf-8"))


def test_file_parses_and_has_required_fields():
    rows = load_questions()
    assert rows, f"{QUESTIONS} is empty"
    for row in rows:
        for field, kind in REQUIRED.items():
            assert field in row, f"{row.get('id')}: missing field {field!r}"
            assert isinstance(row[field], kind), f"{row['id']}: {field} should be {kind.__name__}"
        for field in ("evidence", "doc", "answer_keywords"):
            assert all(isinstance(x, str) and x for x in row[field]), (
                f"{row['id']}: {field} must hold strings"
            )
        assert row["question"].strip() and row["answer"].strip(), f"{row['id']}: empty question or answer"
        if "history" in row:
            assert isinstance(row["history"], list) and row["history"], f"{row['id']}: history must be a list"
            assert all(isinstance(h, str) and h.strip() for h in row["history"]), row["id"]


def test_ids_unique():
    counts = Counter(row["id"] for row in load_questions())
    assert not [i for i, c in counts.items() if c > 1], "duplicate ids"


def test_evidence_lengths():
    for row in load_questions():
        for ev in row["evidence"]:
            assert 8 <= len(ev) <= 60, f"{row['id']}: evidence of {len(ev)} characters: {ev!r}"
            assert "\t" not in ev and "\n" not in ev, f"{row['id']}: evidence crosses a cell or line: {ev!r}"


def test_answerable_questions_have_evidence_docs_and_keywords():
    for row in load_questions():
        if not row["answerable"]:
            continue
        assert row["evidence"], f"{row['id']}: answerable question without evidence"
        assert row["doc"], f"{row['id']}: answerable question without doc"
        assert 1 <= len(row["answer_keywords"]) <= 4, f"{row['id']}: 1-4 keywords expected"
        for name in row["doc"]:
            assert name in doc_paths(), f"{row['id']}: unknown doc {name!r}"


def test_evidence_occurs_in_its_documents():
    for row in load_questions():
        texts = [normalized_doc(name) for name in row["doc"]]
        for ev in row["evidence"]:
            norm = match_normalize(ev)
            assert len(norm) >= 4, f"{row['id']}: evidence normalises to almost nothing: {ev!r}"
            assert any(norm in text for text in texts), (
                f"{row['id']}: evidence not found in {row['doc']}: {ev!r}"
            )


def test_multi_doc_questions_have_evidence_per_document():
    for row in load_questions():
        if row["type"] != "comparison_multi_doc":
            continue
        assert len(set(row["doc"])) >= 2, f"{row['id']}: a comparison needs two or more documents"
        assert len(row["evidence"]) == len(row["doc"]), f"{row['id']}: one evidence string per document"
        for ev, name in zip(row["evidence"], row["doc"], strict=True):
            assert match_normalize(ev) in normalized_doc(name), f"{row['id']}: {ev!r} not in {name}"


def test_keywords_occur_in_documents():
    for row in load_questions():
        if not row["answerable"]:
            continue
        texts = [normalized_doc(name) for name in row["doc"]]
        for kw in row["answer_keywords"]:
            norm = match_normalize(kw)
            assert norm, f"{row['id']}: keyword {kw!r} normalises to nothing"
            assert any(norm in text for text in texts), f"{row['id']}: keyword {kw!r} not in {row['doc']}"


def test_reference_answers_contain_their_keywords():
    for row in load_questions():
        answer = match_normalize(row["answer"])
        for kw in row["answer_keywords"]:
            assert match_normalize(kw) in answer, f"{row['id']}: reference answer lacks keyword {kw!r}"


def test_unanswerable_questions_are_empty():
    for row in load_questions():
        if row["answerable"]:
            assert row["type"] != "unanswerable", f"{row['id']}: type unanswerable but answerable=true"
            continue
        assert row["evidence"] == [] and row["answer_keywords"] == [], (
            f"{row['id']}: unanswerable with evidence"
        )


def test_followups_carry_history():
    for row in load_questions():
        if row["type"] == "followup":
            assert row.get("history"), f"{row['id']}: follow-up without history"


def test_counts_and_coverage():
    rows = load_questions()
    assert len(rows) >= MIN_TOTAL, f"only {len(rows)} questions"
    types = Counter(row["type"] for row in rows)
    missing = [t for t in TYPES if not types[t]]
    assert not missing, f"types without questions: {missing}"
    assert sum(1 for row in rows if not row["answerable"]) >= MIN_UNANSWERABLE
    per_doc = Counter(name for row in rows if row["answerable"] for name in set(row["doc"]))
    seeds = sorted(p.name for p in SEEDS_DIR.glob("*.txt"))
    assert len(seeds) == 5, f"expected five seed documents in {SEEDS_DIR}"
    for name in seeds:
        assert per_doc[name] >= MIN_PER_DOC, f"{name}: only {per_doc[name]} questions"


@pytest.mark.parametrize("type_", ["traditional_query", "english_query"])
def test_language_variants_are_written_in_their_language(type_):
    from assistant.core.text import is_traditional

    for row in load_questions():
        if row["type"] != type_:
            continue
        if type_ == "traditional_query":
            assert is_traditional(row["question"]), f"{row['id']}: not written in Traditional Chinese"
        else:
            assert row["question"].isascii(), f"{row['id']}: English question contains non-ASCII text"
