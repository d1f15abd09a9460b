"""``python -m eval fit-answerer``: fit the offline answer step's model on reading-comprehension data.

For each source (CMRC 2018 trial, DRCD test), the *fit* part's articles (``eval/squad.py``'s
``split_of``; the held-back part is never read here) are indexed with the product's indexer, once
with every paragraph and once with half of them removed. Each question is asked of the first index
(its candidates are labelled by whether they hold a gold answer) and, if its paragraph was removed,
of the second (every candidate is a negative, and the right outcome is to decline). A logistic
regression is fitted on the *train* articles; the decline threshold is chosen on the *validation*
articles (a keyed-hash split of the fit part, by article). The model file records all of it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from eval import squad
from eval.dataset import read_jsonl
from eval.paths import EVAL_DIR, timestamp_dir

DATA = EVAL_DIR.parent.parent / "shared" / "data" / "reading-comprehension"
SOURCES = {"cmrc": "cmrc2018_trial.json", "drcd": "DRCD_test.json"}
SEED = 20261202  # sklearn's random_state
VALIDATION_SHARE = 0.3  # share of the fit part's articles held back to choose the threshold
C = 1.0  # inverse regularisation strength
SECOND_RATIO = 0.9  # a second sentence joins when nearly as probable as the best
MAX_CHARS = 80  # each answer sentence is trimmed to its clauses that cover the question within this
NEGATIVES_DECLINED = 0.85  # issue #11's target share of paragraph-removed questions declined


def add_parser(sub: Any) -> None:
    p = sub.add_parser("fit-answerer", help="fit the offline answer model on reading-comprehension data")
    p.add_argument("--data", type=Path, default=DATA, help="folder with cmrc2018_trial.json and DRCD_test.json")
    p.add_argument("--work", type=Path, default=Path("/tmp/policy-qa-fit"), help="corpora and indexes (cached)")
    p.add_argument("--max-paragraphs", type=int, default=200, help="fit-part paragraphs per source (whole articles)")
    p.add_argument("--model", type=Path, default=squad_model_path(), help="model file to write")
    p.add_argument("--out", type=Path, help="report folder (default eval/reports/fit-answerer-<timestamp>/)")
    p.set_defaults(func=command)


def squad_model_path() -> Path:
    from assistant.qa.fitted import DEFAULT_MODEL

    return DEFAULT_MODEL


def is_validation(article_id: str) -> bool:
    return squad._unit("validation", article_id) < VALIDATION_SHARE


def _index(paragraphs: list[squad.Paragraph], folder: Path, seed_from: Path | None) -> Any:
    """Write and index a corpus of ``paragraphs``; the query engine over it, with a feature-only answerer."""
    from assistant.decisions.router import build_query_engine
    from assistant.index.build import update_index
    from assistant.qa.fitted import AnswerModel, FittedAnswerer
    from assistant.settings import Settings

    squad.write_corpus(paragraphs, folder / "corpus")
    if seed_from is not None:  # the removed-paragraph corpus is a subset: reuse the vectors
        squad.seed_vectors(seed_from, folder / "index")
    settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index", answerer="extractive")
    update_index(settings, progress=False)
    n = 1
    blank = AnswerModel(("rule_score",), np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.5, 1.0, 120, {})
    return build_query_engine(settings, answerer=FittedAnswerer(blank, max_passages=settings.answer_passages + 1))


def _rows(engine: Any, question: Any, golds: tuple[str, ...]) -> list[dict[str, Any]]:
    """The candidates of one question: features and label (holds a gold answer)."""
    from assistant.qa.engine import InvalidQuestionError

    try:
        text, _notice, retrieval, _declined = engine._retrieve(question.question, None)
    except InvalidQuestionError:  # an empty question in the data: nothing to learn from
        return []
    items = engine.answerer.scored(text, retrieval.nodes, engine.answer_context(retrieval))
    norm = [squad.match_normalize(g) for g in golds if squad.match_normalize(g)]
    return [{"f": s.features, "y": int(any(g in squad.match_normalize(s.candidate.text) for g in norm)),
             "chars": len(s.candidate.text)} for s in items]


def first_articles(paragraphs: list[squad.Paragraph], max_paragraphs: int) -> list[squad.Paragraph]:
    """Whole articles in file order until ``max_paragraphs`` is reached (indexing is the slow step)."""
    keep: set[str] = set()
    count = 0
    for p in paragraphs:
        if p.article_id not in keep and count >= max_paragraphs:
            break
        keep.add(p.article_id)
        count += 1
    return [p for p in paragraphs if p.article_id in keep]


def collect(source: str, path: Path, work: Path, max_paragraphs: int) -> list[dict[str, Any]]:
    """One record per question (answerable and paragraph-removed) of a source's fit part; cached in ``work``."""
    cache = work / source / "questions.jsonl"
    if cache.is_file():
        return list(read_jsonl(cache))
    paras = first_articles(squad.select(squad.load_squad(path), "fit"), max_paragraphs)
    kept, negs = squad.negatives(paras)
    article = {p.file: p.article_id for p in paras}
    records: list[dict[str, Any]] = []
    main = _index(paras, work / source / "main", None)
    for q in (q for p in paras for q in p.questions if q.answerable):
        records.append({"source": source, "id": q.id, "article": article[q.doc[0]], "answerable": True,
                        "cands": _rows(main, q, q.answer_keywords)})
    neg = _index(kept, work / source / "negatives", work / source / "main" / "index")
    for q in (q for q in negs if q.type == squad.REMOVED):
        records.append({"source": source, "id": q.id, "article": article[q.doc[0]], "answerable": False,
                        "cands": _rows(neg, q, ())})
    cache.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return records


def _matrix(records: list[dict[str, Any]], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    rows = [[c["f"][n] for n in names] for r in records for c in r["cands"]]
    return np.array(rows, dtype=float).reshape(-1, len(names)), np.array([c["y"] for r in records for c in r["cands"]])


def outcomes(records: list[dict[str, Any]], model: Any) -> list[tuple[bool, float, bool, int]]:
    """Per question: (answerable, best probability, best candidate holds the answer, its length)."""
    out = []
    for r in records:
        if not r["cands"]:
            out.append((r["answerable"], 0.0, False, 0))
            continue
        x, y = _matrix([r], model.features)
        p = model.probabilities(x)
        i = int(np.argmax(p))
        out.append((r["answerable"], float(p[i]), bool(y[i]), r["cands"][i]["chars"]))
    return out


def figures(results: list[tuple[bool, float, bool, int]], threshold: float) -> dict[str, float]:
    """The issue's targets at a threshold: hits (answered with a gold sentence), false declines, negatives declined."""
    pos = [r for r in results if r[0]]
    neg = [r for r in results if not r[0]]
    return {
        "answerable": len(pos),
        "answered_with_gold_sentence": round(sum(p >= threshold and ok for _, p, ok, _ in pos) / max(len(pos), 1), 4),
        "wrongly_declined": round(sum(p < threshold for _, p, _, _ in pos) / max(len(pos), 1), 4),
        "negatives": len(neg),
        "negatives_declined": round(sum(p < threshold for _, p, _, _ in neg) / max(len(neg), 1), 4),
    }


def choose_threshold(results: list[tuple[bool, float, bool, int]]) -> float:
    """The lowest threshold (fewest false declines) that declines the issue's share of paragraph-removed questions."""
    grid = np.round(np.arange(0.02, 0.995, 0.005), 3)
    meets = [t for t in grid if figures(results, t)["negatives_declined"] >= NEGATIVES_DECLINED]
    return float(meets[0] if meets else grid[-1])


def fit(records: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """Fit on the train articles, choose the threshold on the validation ones; (model, figures)."""
    from sklearn.linear_model import LogisticRegression

    from assistant.qa.fitted import FEATURES, AnswerModel

    train = [r for r in records if not is_validation(r["article"])]
    val = [r for r in records if is_validation(r["article"])]
    x, y = _matrix(train, FEATURES)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=C, class_weight="balanced", max_iter=2000, random_state=SEED)
    lr.fit((x - mean) / scale, y)
    model = AnswerModel(FEATURES, mean, scale, lr.coef_[0], float(lr.intercept_[0]), 0.5, SECOND_RATIO, MAX_CHARS, {})
    val_results = outcomes(val, model)
    threshold = choose_threshold(val_results)
    model = AnswerModel(FEATURES, mean, scale, lr.coef_[0], float(lr.intercept_[0]), threshold, SECOND_RATIO, MAX_CHARS, {})
    report: dict[str, Any] = {"train_questions": len(train), "validation_questions": len(val),
                              "train_candidates": int(len(y)), "train_positives": int(y.sum()),
                              "threshold": threshold, "validation": figures(val_results, threshold)}
    for source in sorted({r["source"] for r in val}):
        report[f"validation_{source}"] = figures(outcomes([r for r in val if r["source"] == source], model), threshold)
    return model, report


def write_model(model: Any, report: dict[str, Any], path: Path, sources: dict[str, Path], max_paragraphs: int) -> None:
    import sklearn

    provenance = {
        "fitted": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "python -m eval fit-answerer",
        "data": {k: str(v.name) for k, v in sources.items()},
        "split": f"eval/squad.py split_of (seed {squad.SEED!r}, fit share {squad.FIT_SHARE}): fit part only, "
                 f"whole articles up to {max_paragraphs} paragraphs per source; validation = keyed hash < {VALIDATION_SHARE} by article",
        "learner": f"sklearn {sklearn.__version__} LogisticRegression(C={C}, class_weight='balanced', "
                   f"random_state={SEED}) on standardised features",
        "label": "candidate sentence holds a gold answer (match_normalize)",
        "threshold": f"lowest that declines >= {NEGATIVES_DECLINED} of paragraph-removed questions of the "
                     "validation articles",
        "metrics": report,
    }
    data = {"features": list(model.features), "mean": model.mean.round(6).tolist(),
            "scale": model.scale.round(6).tolist(), "coef": model.coef.round(6).tolist(),
            "intercept": round(model.intercept, 6), "threshold": model.threshold,
            "second_ratio": model.second_ratio, "max_chars": model.max_chars, "provenance": provenance}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def command(args: argparse.Namespace) -> int:
    """Collect (cached), fit, write the model file and ``fit.json``; exit 2 when the data is missing."""
    sources = {k: args.data / v for k, v in SOURCES.items()}
    missing = [str(p) for p in sources.values() if not p.is_file()]
    if missing:
        print(f"error: missing {', '.join(missing)} (see the data README)", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    records = [r for k, p in sources.items() for r in collect(k, p, args.work, args.max_paragraphs)]
    model, report = fit(records)
    write_model(model, report, args.model, sources, args.max_paragraphs)
    out = args.out or timestamp_dir("fit-answerer-")
    out.mkdir(parents=True, exist_ok=True)
    (out / "fit.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    print(f"model: {args.model} ({time.perf_counter() - t0:.0f} s); report: {out}")
    return 0
