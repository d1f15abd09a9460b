"""``python -m eval fit-answerer``: fit the offline answer step's model on reading-comprehension data.

For each source (CMRC 2018 trial, DRCD test), the *fit* part's articles (``eval/squad.py``'s
``split_of``; the held-back part is never read here) are indexed with the product's indexer, once
with every paragraph and once with half of them removed. Each question is asked of the first index
(its candidates are labelled by whether they hold a gold answer) and, if its paragraph was removed,
of the second (every candidate is a negative, and the right outcome is to decline). The own policy
set's fit part joins them (``eval/fit_own.py``). The variant and the decline threshold are chosen on
out-of-fold predictions (``eval/fit_model.py``), then a logistic regression is fitted on every fit
record. The model file records all of it.
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
C = 1.0  # inverse regularisation strength (the variants try it and a tenth of it)
OWN_WEIGHT = 5.0  # weight of an own-set candidate row in the variants that weigh the small policy set up
MAX_CHARS = 80  # an answer sentence is trimmed to this; longer sentences also get clause-window candidates


def add_parser(sub: Any) -> None:
    p = sub.add_parser("fit-answerer", help="fit the offline answer model on reading-comprehension data")
    p.add_argument("--data", type=Path, default=DATA, help="folder with cmrc2018_trial.json and DRCD_test.json")
    p.add_argument("--work", type=Path, default=Path("/tmp/policy-qa-fit"), help="corpora and indexes (cached)")
    p.add_argument("--max-paragraphs", type=int, default=200, help="fit-part paragraphs per source (whole articles)")
    p.add_argument("--no-own", dest="own", action="store_false", help="leave out the own policy set's fit part")
    p.add_argument("--model", type=Path, default=squad_model_path(), help="model file to write")
    p.add_argument("--out", type=Path, help="report folder (default eval/reports/fit-answerer-<timestamp>/)")
    p.add_argument("--heldout", type=int, default=0, metavar="N",
                   help="then report on each source's held-back part: N answerable questions plus negatives")
    p.set_defaults(func=command)


def squad_model_path() -> Path:
    from assistant.qa.fitted import DEFAULT_MODEL

    return DEFAULT_MODEL


def _index(paragraphs: list[squad.Paragraph], folder: Path, seed_from: Path | None) -> Any:
    """Write and index a corpus of ``paragraphs``; the query engine over it, with a feature-only answerer."""
    from assistant.index.build import update_index
    from assistant.settings import Settings

    squad.write_corpus(paragraphs, folder / "corpus")
    if seed_from is not None:  # the removed-paragraph corpus is a subset: reuse the vectors
        squad.seed_vectors(seed_from, folder / "index")
    settings = Settings(corpus_dir=folder / "corpus", index_dir=folder / "index", answerer="extractive",
                        answer_model="fitted")
    update_index(settings, progress=False)
    return feature_engine(settings)


def feature_engine(settings: Any) -> Any:
    """The product's query engine over an index, with an answerer that only computes features."""
    from assistant.decisions.router import build_query_engine
    from assistant.qa.fitted import AnswerModel, FittedAnswerer

    n = 1  # windows on: the records hold clause-window candidates too (``is_window``), fitting may drop them
    blank = AnswerModel(("rule_score",), np.zeros(n), np.ones(n), np.zeros(n), 0.0, 0.5, 1.0, MAX_CHARS, {},
                        windows=True)
    return build_query_engine(settings, answerer=FittedAnswerer(blank, max_passages=settings.answer_passages + 1))


def _rows(engine: Any, question: Any, golds: tuple[str, ...], every: tuple[str, ...] = ()) -> dict[str, Any]:
    """One question's candidates (features, label: holds any of ``golds`` or all of ``every``) with what the
    question-to-candidate features need (``q``: the question, ``passages``: the answered passages' texts), so
    a feature change re-scores the cached records instead of re-asking the index."""
    from assistant.qa.engine import InvalidQuestionError

    try:
        text, _notice, retrieval, _declined = engine._retrieve(question.question, None)
    except InvalidQuestionError:  # an empty question in the data: nothing to learn from
        return {"q": question.question, "passages": [], "cands": []}
    from assistant.qa.extractive.composing import trim

    context = engine.answer_context(retrieval)
    items = engine.answerer.scored(text, retrieval.nodes, context)
    ideas = engine.answerer._concepts(context.plan_for(text), context)
    norm = [squad.match_normalize(g) for g in golds if squad.match_normalize(g)]
    need = [squad.match_normalize(g) for g in every if squad.match_normalize(g)]

    def label(t: str) -> int:
        t = squad.match_normalize(t)
        return int(any(g in t for g in norm) or (bool(need) and all(g in t for g in need)))

    passages = [str(n.node.get_content()) for n in retrieval.nodes[: engine.answerer.max_passages]]
    return {"q": text, "passages": passages, "cands": [
        {"f": {k: (None if v != v else v) for k, v in s.features.items()}, "y": label(s.candidate.text),
             "y_trim": label(trim(s.candidate.text, ideas, MAX_CHARS)), "chars": len(s.candidate.text),
             "window": s.candidate.text != s.sentence, "t": s.candidate.text, "s": s.sentence,
             "p": s.candidate.passage_index} for s in items]}


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
                        **_rows(main, q, q.answer_keywords)})
    neg = _index(kept, work / source / "negatives", work / source / "main" / "index")
    for q in (q for q in negs if q.type == squad.REMOVED):
        records.append({"source": source, "id": q.id, "article": article[q.doc[0]], "answerable": False,
                        **_rows(neg, q, ())})
    cache.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return records


def refeature(records: list[dict[str, Any]]) -> None:
    """Recompute the question-to-candidate features of cached records from their stored texts (in place),
    so a change to ``assistant/qa/feature_align.py`` is measured without re-asking the index."""
    from assistant.qa.feature_align import extend

    for r in records:
        if r["cands"]:
            cands = r["cands"]
            extend(r["q"], [c["t"] for c in cands], [c["s"] for c in cands], [c["p"] for c in cands],
                   [c["f"] for c in cands])


def variants() -> list[Any]:
    """The candidates for the model, compared on out-of-fold predictions of the fit part only."""
    from assistant.qa.feature_align import ALIGN_FEATURES
    from assistant.qa.features import BASE_FEATURES, FEATURES
    from eval.fit_model import Variant

    return [
        Variant(BASE_FEATURES, True, C, OWN_WEIGHT, False),  # last session's model: + e5, BM25, heading, windows
        Variant((*BASE_FEATURES, *ALIGN_FEATURES), True, C, OWN_WEIGHT, False),  # + question alignment, kind
        Variant(FEATURES, True, C, OWN_WEIGHT, False),  # + ranks among the question's candidates
    ]


def fit(records: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """Choose the variant and policy (threshold, rules-first, second piece) on out-of-fold predictions, then
    fit the chosen variant on every fit record."""
    from assistant.qa.fitted import AnswerModel
    from eval.fit_model import choose, train

    best, policy, tried = choose(records, variants(), MAX_CHARS)
    m = train(records, best)
    model = AnswerModel(best.features, m.mean, m.scale, m.coef, m.intercept, policy.threshold, policy.second,
                        MAX_CHARS, {}, windows=best.windows, agree=policy.agree)
    counts = {s: {"questions": sum(r["source"] == s for r in records),
                  "negatives": sum(r["source"] == s and not r["answerable"] for r in records)}
              for s in sorted({r["source"] for r in records})}
    chosen = next(t for t in tried if t["variant"] == best.describe() and t["out_of_fold"]["agree"] == policy.agree
                  and t["out_of_fold"]["second_ratio"] == policy.second)
    return model, {"records": counts, "chosen": best.describe(), "out_of_fold": chosen["out_of_fold"],
                   "variants": tried}


def write_model(model: Any, report: dict[str, Any], path: Path, sources: dict[str, Path], max_paragraphs: int) -> None:
    import sklearn

    from eval.fit_model import (
        FOLDS,
        NEGATIVES_MARGIN_SE,
        OWN_CONSTRAINT,
        OWN_NEGATIVES_DECLINED,
        RC_NEGATIVES_DECLINED,
        SEED,
    )

    chosen = report["chosen"]
    provenance = {
        "fitted": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": f"python -m eval fit-answerer --max-paragraphs {max_paragraphs}",
        "data": {**{k: str(v.name) for k, v in sources.items()}, "own": "eval/questions.jsonl (fit part)"},
        "split": f"eval/squad.py split_of (seed {squad.SEED!r}, fit share {squad.FIT_SHARE}): fit part only "
                 f"(RC: whole articles up to {max_paragraphs} paragraphs per source; own set: question_split == "
                 f"'fit'); {FOLDS} folds by keyed hash of the article (own set: the question) for the choices",
        "learner": f"sklearn {sklearn.__version__} LogisticRegression(C={chosen['C']}, class_weight="
                   f"{chosen['class_weight']!r}, random_state={SEED}) on standardised features, own-set rows "
                   f"weighted {chosen['own_weight']}; a missing feature (NaN) takes the mean",
        "label": "RC: the candidate holds a gold answer; own set: it holds an evidence string or every answer "
                 "keyword (match_normalize); unanswerable, paragraph-removed and year-swapped questions: none",
        "threshold": f"lowest that declines >= {RC_NEGATIVES_DECLINED} + {NEGATIVES_MARGIN_SE} standard error "
                     "(of a share over each source's fit negatives) of paragraph-removed RC questions"
                     + (f" and >= {OWN_NEGATIVES_DECLINED} of the own set's negatives" if OWN_CONSTRAINT else
                        " (the own set's negatives are training negatives only)") + ", out of fold",
        "feature_tables": "assistant/data/answer_types.toml (question words, asked and stated kinds of answer)",
        "metrics": report,
    }
    data = {"features": list(model.features), "mean": model.mean.round(6).tolist(),
            "scale": model.scale.round(6).tolist(), "coef": model.coef.round(6).tolist(),
            "intercept": round(model.intercept, 6), "threshold": model.threshold,
            "second_ratio": model.second_ratio, "max_chars": model.max_chars, "windows": model.windows,
            "agree": model.agree,
            "bm25_k1": model.bm25_k1, "bm25_b": model.bm25_b, "provenance": provenance}
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
    if args.own:  # the own policy set's fit part, its unanswerables and year-swapped near misses
        from eval.fit_own import collect_own

        records += collect_own(args.work)
    refeature(records)
    model, report = fit(records)
    write_model(model, report, args.model, sources, args.max_paragraphs)
    out = args.out or timestamp_dir("fit-answerer-")
    out.mkdir(parents=True, exist_ok=True)
    (out / "fit.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    print(f"model: {args.model} ({time.perf_counter() - t0:.0f} s); report: {out}")
    if args.heldout:
        return heldout_report(sources, out, args.heldout, args.model)
    return 0


def heldout_report(sources: dict[str, Path], out: Path, limit: int, model: Path) -> int:
    """``eval run --squad F --split heldout --limit N --negatives`` per source with the fitted answerer, after
    the fitting is done (the held-back part is read only here), each in ``out/heldout-<source>/``."""
    import os
    import subprocess

    if model != squad_model_path():
        print("note: --heldout scores the committed model file; this run wrote another one", file=sys.stderr)
    env = {**os.environ, "POLICY_QA_ANSWER_MODEL": "fitted"}
    for name, path in sources.items():
        cmd = [sys.executable, "-m", "eval", "run", "--squad", str(path), "--split", "heldout", "--limit",
               str(limit), "--negatives", "--no-progress", "--out", str(out / f"heldout-{name}")]
        code = subprocess.run(cmd, env=env, check=False).returncode
        if code:
            return code
    return 0
