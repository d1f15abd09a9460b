"""``python -m eval fit-fusion``: choose the fusion weights of hybrid retrieval on fit data, report held-back.

Each question is searched once (``HybridRetriever.candidates``: the plan, the place scopes and every leg's
ranking); each point of a small grid then only re-fuses those rankings (``retriever.order``, the product's
own code), so the grid costs milliseconds per point. The point with the best mean top-5 hit over the fit
sets (each set weighing the same; ties: MRR@10, then the first in grid order) is written with its
provenance to ``assistant/data/fusion.toml``, where ``RetrievalSettings`` takes its defaults from. The
held-back parts are scored for the report only: they never choose.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from eval.paths import DEFAULT_QUESTIONS

if TYPE_CHECKING:
    from assistant.index.catalog import Catalog
    from assistant.retrieval.fusion import Weights
    from assistant.retrieval.retriever import Candidates
    from assistant.settings import Settings

LAY_QUESTIONS = Path(__file__).with_name("lay_questions.jsonl")
GRID = {  # dense_weight stays 1: RRF depends on the weights' ratios (the named-document boost aside)
    "rrf_k": (2.0, 5.0, 10.0, 20.0, 40.0, 60.0),
    "sparse_weight": (0.0, 0.25, 0.5, 1.0, 1.5),
    "char_weight": (0.0, 0.25, 0.5, 1.0, 1.5),
    "exact_place_factor": (1.0, 1.15, 1.3, 1.5, 2.0),
}
FITTED = ("rrf_k", "dense_weight", "sparse_weight", "char_weight", "exact_place_factor")
HIT_K = 5


@dataclass
class Asked:
    """One question searched once: its candidates and its evidence (normalised)."""

    candidates: Candidates
    evidence: tuple[str, ...]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit-fusion", help="choose the retrieval fusion weights on fit data (grid search)")
    p.add_argument("--questions", type=Path, nargs="+", default=[DEFAULT_QUESTIONS, LAY_QUESTIONS],
                   help="question sets (EVAL_FORMAT.md); each one's fit part fits, its held-back part is reported")
    p.add_argument("--index-dir", type=Path, help="product index folder (default: settings)")
    p.add_argument("--corpus", type=Path, help="corpus folder (default: settings)")
    p.add_argument("--out", type=Path, help="where to write the fitted values (default assistant/data/fusion.toml)")
    p.add_argument("--grid", help="override the grid, e.g. 'rrf_k=10,20;char_weight=0,1' (others: defaults)")
    p.set_defaults(func=cmd_fit_fusion)


def parse_grid(text: str | None) -> dict[str, tuple[float, ...]]:
    """The default grid with the axes ``text`` names replaced (``name=v1,v2;name=v3``)."""
    grid = dict(GRID)
    for part in filter(None, (text or "").split(";")):
        name, _, values = part.partition("=")
        if name.strip() not in GRID:
            raise ValueError(f"unknown grid axis {name.strip()!r}; choose from {', '.join(GRID)}")
        grid[name.strip()] = tuple(float(v) for v in values.split(","))
    return grid


def hit_and_rr(cat: Catalog, asked: Asked, weights: Weights, texts: dict[str, str]) -> tuple[bool, float]:
    """(all evidence in the top ``HIT_K``, reciprocal rank at which the last evidence is covered, top 10)."""
    from assistant.core.text import match_normalize
    from assistant.retrieval.retriever import order
    from eval.metrics import evidence_rank

    top = [node_id for node_id, _ in order(cat, asked.candidates, weights)[:10]]
    for node_id in top:
        if node_id not in texts:
            texts[node_id] = match_normalize(cat.nodes[node_id].get_content())
    rank = evidence_rank(asked.evidence, [texts[i] for i in top])
    return (rank is not None and rank <= HIT_K), (1.0 / rank if rank else 0.0)


def ask_all(cat: Catalog, settings: Settings, path: Path, split: str) -> list[Asked]:
    """Search every answerable, single-turn question of one part of a set once (on its ``as_of`` day)."""
    from assistant.core.validity import pinned_today
    from assistant.retrieval.retriever import HybridRetriever
    from eval.dataset import load_questions
    from eval.squad import question_split

    retriever = HybridRetriever(settings, catalog=cat)
    asked = []
    for q in load_questions(path):
        if not q.answerable or not q.evidence_norm or q.history or question_split(q) != split:
            continue
        with pinned_today(q.as_of):
            asked.append(Asked(retriever.candidates(cat, q.question), tuple(q.evidence_norm)))
    return asked


def score(cat: Catalog, sets: Sequence[list[Asked]], weights: Weights, texts: dict[str, str]
          ) -> tuple[float, float, list[float]]:
    """(mean over the sets of hit@5, the same of MRR@10, hit@5 per set)."""
    hits, rrs = [], []
    for asked in sets:
        pairs = [hit_and_rr(cat, a, weights, texts) for a in asked]
        hits.append(sum(h for h, _ in pairs) / max(len(pairs), 1))
        rrs.append(sum(r for _, r in pairs) / max(len(pairs), 1))
    return sum(hits) / len(hits), sum(rrs) / len(rrs), hits


def weights_of(values: dict[str, float], settings: Settings) -> Weights:
    from assistant.retrieval.fusion import Weights

    tuned = settings.retrieval
    return Weights(values["rrf_k"], (values.get("dense_weight", 1.0), values["sparse_weight"], values["char_weight"]),
                   tuned.named_document_boost, values["exact_place_factor"], settings.superseded_weight)


def fit(cat: Catalog, settings: Settings, fit_sets: Sequence[list[Asked]],
        grid: dict[str, tuple[float, ...]]) -> tuple[dict[str, float], float, float]:
    """The grid point with the best (hit@5, MRR@10) on the fit sets, the first among equals."""
    texts: dict[str, str] = {}
    best: tuple[float, float] | None = None
    chosen: dict[str, float] = {}
    for point in itertools.product(*grid.values()):
        values = {"dense_weight": 1.0, **dict(zip(grid, point, strict=True))}
        hit, rr, _ = score(cat, fit_sets, weights_of(values, settings), texts)
        if best is None or (hit, rr) > best:
            best, chosen = (hit, rr), values
    assert best is not None
    return chosen, best[0], best[1]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def render_toml(chosen: dict[str, float], provenance: dict[str, object]) -> str:
    """The fitted values and their provenance as TOML (flat tables of numbers, strings and lists)."""

    def value(v: object) -> str:
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(float(v)) if isinstance(v, float) else str(v)

    lines = [
        "# Fusion weights of hybrid retrieval (assistant/retrieval/retriever.py), read by assistant/settings/stages.py as the",
        "# defaults of RetrievalSettings. Written by `python -m eval fit-fusion`; do not edit the numbers by hand.",
        "",
        "[fitted]",
        *(f"{k} = {value(chosen[k])}" for k in FITTED),
        "",
        "[provenance]",
        *(f"{k} = {value(v)}" for k, v in provenance.items()),
        "",
    ]
    return "\n".join(lines)


def cmd_fit_fusion(args: argparse.Namespace) -> int:
    from assistant.index.catalog import open_catalog
    from assistant.settings import FUSION_FILE, Settings

    overrides = {k: v for k, v in (("index_dir", args.index_dir), ("corpus_dir", args.corpus)) if v}
    settings = Settings(**overrides)
    try:
        grid = parse_grid(args.grid)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cat = open_catalog(settings)
    names = [p.name for p in args.questions]
    fit_sets = [ask_all(cat, settings, p, "fit") for p in args.questions]
    held_sets = [ask_all(cat, settings, p, "heldout") for p in args.questions]
    chosen, hit, rr = fit(cat, settings, fit_sets, grid)
    texts: dict[str, str] = {}
    current = {k: float(getattr(settings.retrieval, k)) for k in FITTED}
    _, _, fit_hits = score(cat, fit_sets, weights_of(chosen, settings), texts)
    _, _, held_new = score(cat, held_sets, weights_of(chosen, settings), texts)
    _, _, held_old = score(cat, held_sets, weights_of(current, settings), texts)
    provenance: dict[str, object] = {
        "command": "python -m eval fit-fusion",
        "date": date.today().isoformat(),
        "index": f"{settings.corpus_dir.name}/ build {cat.build_id} ({len(cat.node_ids)} passages)",
        "data": [f"{n} (sha256 {_sha(p)})" for n, p in zip(names, args.questions, strict=True)],
        "split": "fit part of each set (eval.squad.question_split: by source document)",
        "fit_questions": [len(s) for s in fit_sets],
        "metric": f"mean over the sets of hit@{HIT_K} (ties: MRR@10, then the first grid point)",
        **{f"grid_{k}": list(v) for k, v in grid.items()},
        "grid_dense_weight": [1.0],
        f"fit_hit{HIT_K}": [round(h, 4) for h in fit_hits],
        "fit_mrr10": round(rr, 4),
        "heldout_questions": [len(s) for s in held_sets],
        f"heldout_hit{HIT_K}": [round(h, 4) for h in held_new],
        f"heldout_hit{HIT_K}_before": [round(h, 4) for h in held_old],
        "before": [f"{k}={current[k]}" for k in FITTED],
    }
    out = args.out or FUSION_FILE
    out.write_text(render_toml(chosen, provenance), encoding="utf-8")
    print("chosen: " + ", ".join(f"{k}={chosen[k]}" for k in FITTED) + f"  (fit hit@{HIT_K} {hit:.3f})")
    for n, a, b in zip(names, held_old, held_new, strict=True):
        print(f"held-back hit@{HIT_K} {n}: {a:.3f} before -> {b:.3f} fitted")
    print(f"written: {out}")
    return 0
