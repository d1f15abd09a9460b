"""SQuAD-style reading-comprehension sets (CMRC 2018, DRCD, a user's own) as an eval corpus + questions.

Each paragraph becomes one corpus file (title from ``manifest.toml``), so a paragraph maps to its own
chunks and every chunk's text and vector are identical in the full and the negatives corpus: the
second index of a run embeds nothing. A question's evidence is the sentence(s) of its paragraph
holding the gold answer; its keywords are the gold answers, any one of which counts
(``keywords_match: "any"``). Splits are by article, never by question, from a keyed hash, so the
fitting and the held-back parts never share a document and stay the same across runs and machines.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assistant.core.text import match_normalize
from eval.dataset import Question

SEED = "policy-qa-squad-split-v1"  # changing it reshuffles fit/heldout: never, once a model is fitted
FIT_SHARE = 0.5  # share of articles in the fitting part; the rest is held back
REMOVED_SHARE = 0.5  # share of paragraphs left out of the negatives corpus
ANSWERABLE = "answerable"
REMOVED = "own_paragraph_removed"  # question asked of the corpus without its paragraph: must decline
REMOVED_ELSEWHERE = "own_paragraph_removed_answer_elsewhere"  # ...but a gold answer string is still there
_SENTENCE_END = "。！？；!?;\n"  # as the chunker's, so an evidence sentence never straddles two chunks
_CLOSERS = "”’」』)）\"'"
_UNSAFE = re.compile(r"[^0-9A-Za-z_-]+")


class SquadError(ValueError):
    """A file that is not SQuAD-style JSON; the message names the file and the first problem."""


@dataclass(frozen=True)
class Paragraph:
    file: str  # corpus file name: <article>_<nn>.txt
    article_id: str
    title: str
    text: str
    questions: tuple[Question, ...]


def _unit(*parts: str) -> float:
    """A stable pseudo-random number in [0, 1) from the parts (same on every machine and run)."""
    digest = hashlib.sha256("\x1f".join((SEED, *parts)).encode("utf-8")).hexdigest()
    return int(digest[:15], 16) / 16**15


def split_of(article_id: str) -> str:
    """``"fit"`` or ``"heldout"``: which part an article (with all its paragraphs and questions) is in."""
    return "fit" if _unit("split", article_id) < FIT_SHARE else "heldout"


def question_split(question: Question) -> str:
    """``"fit"`` or ``"heldout"`` for a question of a policy set, by its first source document (never by
    question, so a document's clauses are all on one side); a question without one (unanswerable) by id."""
    return split_of(question.doc[0] if question.doc else question.id)


def is_removed(paragraph_file: str) -> bool:
    """Whether a paragraph is left out of the negatives corpus (its questions then must be declined)."""
    return _unit("removed", paragraph_file) < REMOVED_SHARE


def answer_sentence(context: str, start: int, answer: str) -> str:
    """The sentence(s) of ``context`` holding ``answer`` (at ``start``, else its first occurrence)."""
    if start < 0 or context[start : start + len(answer)] != answer:
        start = context.find(answer)
        if start < 0 or not answer:
            return ""
    end = start + len(answer)
    begin = max(context.rfind(c, 0, start) for c in _SENTENCE_END) + 1
    stops = [i for i in (context.find(c, max(end - 1, start)) for c in _SENTENCE_END) if i >= 0]
    stop = min(stops) + 1 if stops else len(context)
    while stop < len(context) and context[stop] in _CLOSERS:
        stop += 1
    return context[begin:stop].strip()


def _question(qa: dict[str, Any], context: str, file: str, seen: set[str]) -> Question:
    """One SQuAD question; a v2 ``is_impossible`` one becomes an unanswerable item."""
    qid = str(qa.get("id") or f"{file}#{len(seen)}")
    while qid in seen:
        qid += "'"
    seen.add(qid)
    question = str(qa["question"]).strip()
    if qa.get("is_impossible"):
        return Question(id=qid, question=question, answerable=False, type="unanswerable", doc=(file,))
    answers = [a for a in qa.get("answers") or [] if isinstance(a, dict) and str(a.get("text", "")).strip()]
    if not answers:
        raise ValueError(f"question {qid}: no answer text and not is_impossible")
    golds = tuple(dict.fromkeys(str(a["text"]).strip() for a in answers))
    first = answers[0]
    sentence = answer_sentence(context, int(first.get("answer_start", -1)), str(first["text"]).strip())
    return Question(id=qid, question=question, answerable=True, evidence=(sentence,) if sentence else (),
                    answer_keywords=golds, type=ANSWERABLE, doc=(file,), answer=golds[0], keywords_any=True)


def load_squad(path: Path) -> list[Paragraph]:
    """Every paragraph of a SQuAD v1-style file with its questions, in file order."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SquadError(f"{path}: not a SQuAD-style JSON file with a 'data' list ({exc})") from exc
    paragraphs: list[Paragraph] = []
    seen: set[str] = set()
    files: set[str] = set()
    for a_index, article in enumerate(data):
        try:
            article_id = str(article.get("id") or article.get("title") or f"article{a_index}")
            safe = _UNSAFE.sub("-", article_id).strip("-")[:40] or f"article{a_index}"
            if f"{safe}_00.txt" in files:  # two ids with the same file-safe form
                safe = f"{safe}-{a_index}"
            for p_index, para in enumerate(article["paragraphs"]):
                context = str(para["context"])
                file = f"{safe}_{p_index:02d}.txt"
                files.add(file)
                qs = tuple(_question(qa, context, file, seen) for qa in para.get("qas") or [])
                title = str(article.get("title") or article_id)
                paragraphs.append(Paragraph(file, article_id, title, context, qs))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise SquadError(f"{path}: article {a_index + 1}: {exc!r}") from exc
    if not any(p.questions for p in paragraphs):
        raise SquadError(f"{path}: no questions")
    return paragraphs


def select(paragraphs: Sequence[Paragraph], split: str) -> list[Paragraph]:
    return [p for p in paragraphs if split == "all" or split_of(p.article_id) == split]


def sample(questions: Sequence[Question], limit: int | None) -> list[Question]:
    """Up to ``limit`` questions spread over all articles (keyed-hash order, stable); all when no limit."""
    if not limit:
        return list(questions)
    return sorted(questions, key=lambda q: _unit("sample", q.id))[:limit]


def write_corpus(paragraphs: Sequence[Paragraph], folder: Path) -> None:
    """One text file per paragraph plus a manifest with its article title; stale files are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    keep = {p.file for p in paragraphs}
    for old in folder.glob("*.txt"):
        if old.name not in keep:
            old.unlink()
    manifest = []
    for p in paragraphs:
        target = folder / p.file
        text = p.text.strip() + "\n"
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
        # Empty issuer/number/date: no detector guesses an issuing office in an encyclopaedia text.
        manifest.append(f"[{json.dumps(p.file)}]\ntitle = {json.dumps(p.title, ensure_ascii=False)}\n"
                        'issuer = ""\ndoc_number = ""\ndate = ""\n')
    (folder / "manifest.toml").write_text("\n".join(manifest), encoding="utf-8")


def negatives(paragraphs: Sequence[Paragraph]) -> tuple[list[Paragraph], list[Question]]:
    """The negatives corpus (paragraphs kept) and the removed paragraphs' questions, now unanswerable.

    One index serves every negative: half the paragraphs are removed at once, so each removed
    question meets the rest of its article (near misses) but not its own paragraph. A question whose
    gold answer string still occurs in a kept paragraph is typed apart: it may be answerable there.
    """
    kept = [p for p in paragraphs if not is_removed(p.file)]
    kept_text = "\n".join(match_normalize(p.text) for p in kept)
    out = []
    for p in paragraphs:
        if not is_removed(p.file):
            continue
        for q in (q for q in p.questions if q.answerable):
            elsewhere = any(k and k in kept_text for k in q.keywords_norm)
            out.append(replace(q, id=f"{q.id}#removed", answerable=False, evidence=(), answer_keywords=(),
                               type=REMOVED_ELSEWHERE if elsewhere else REMOVED))
    return kept, out


def seed_vectors(source_index: Path, target_index: Path) -> None:
    """Copy one index's vector cache into another's, so a corpus that is a subset embeds nothing.

    The whole ``vectors/`` folder is copied, whatever the cache's file format (it was ``.npz``, now a log).
    """
    source, target = source_index / "vectors", target_index / "vectors"
    target.mkdir(parents=True, exist_ok=True)
    for file in sorted(source.iterdir()) if source.is_dir() else ():
        if file.is_file():
            shutil.copyfile(file, target / file.name)


def question_record(q: Question) -> dict[str, Any]:
    """The EVAL_FORMAT.md line of a question, so a run can be repeated with ``--questions``."""
    return {"id": q.id, "question": q.question, "answerable": q.answerable, "evidence": list(q.evidence),
            "doc": list(q.doc), "answer": q.answer, "answer_keywords": list(q.answer_keywords),
            "keywords_match": "any" if q.keywords_any else "all", "type": q.type}
