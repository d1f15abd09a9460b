"""The own policy set's fit part as fitting records for ``eval fit-answerer``.

Only questions with ``eval.squad.question_split(q) == "fit"`` are read (the held-back part never is).
The default corpus is indexed under ``--work`` (vectors from the shipped cache). Records:

- answerable fit questions: a candidate is positive when it contains one of the question's evidence
  strings or every one of its answer keywords (``match_normalize``d);
- the fit part's unanswerable questions: every candidate is negative;
- year-swapped questions: a fit question that names a year, asked again with each year moved to one the
  corpus never states (``SWAP_YEARS`` later), every candidate negative: the near miss of another year's
  figure must not be answered as if it were the asked one.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from eval.dataset import Question, load_questions, read_jsonl
from eval.paths import EVAL_DIR
from eval.squad import question_split

QUESTIONS = EVAL_DIR / "questions.jsonl"
CORPUS = EVAL_DIR.parent / "corpus"
SWAP_YEARS = 11  # a swapped year is this many years after the asked one (and never stated in the corpus)
_YEAR = re.compile(r"20\d{2}")


def fit_questions(path: Path = QUESTIONS) -> list[Question]:
    return [q for q in load_questions(path) if question_split(q) == "fit"]


def swapped(questions: list[Question], corpus_text: str) -> list[Question]:
    """Fit questions naming a year, the year moved to one the corpus does not state; unanswerable."""
    out = []
    for q in questions:
        if not q.answerable or not _YEAR.search(q.question):
            continue
        text = _YEAR.sub(lambda m: str(int(m.group()) + SWAP_YEARS), q.question)
        if any(y in corpus_text for y in _YEAR.findall(text)):
            continue
        out.append(replace(q, id=f"{q.id}#year", question=text, answerable=False, type="year_swapped"))
    return out


def collect_own(work: Path, questions_path: Path = QUESTIONS, corpus: Path = CORPUS) -> list[dict[str, Any]]:
    """One record per fit-part question (answerable, unanswerable, year-swapped); cached in ``work``."""
    from assistant.index.build import update_index
    from assistant.settings import Settings
    from eval.fit_answerer import _rows, feature_engine

    cache = work / "own" / "questions.jsonl"
    if cache.is_file():
        return list(read_jsonl(cache))
    settings = Settings(corpus_dir=corpus, index_dir=work / "own" / "index", answerer="extractive",
                        answer_model="fitted")
    update_index(settings, progress=False)
    engine = feature_engine(settings)
    qs = fit_questions(questions_path)
    corpus_text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.txt")))
    records = []
    for q in [*qs, *swapped(qs, corpus_text)]:
        golds, every = (q.evidence, q.answer_keywords) if q.answerable else ((), ())
        records.append({"source": "own", "id": q.id, "article": q.id, "answerable": q.answerable,
                        "kind": q.type, **_rows(engine, q, golds, every)})
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return records
