"""Fitting the answer model on collected records: grouped cross-validation, threshold, variant choice.

Every record is one question of a *fit* part (RC articles, the own set's fit documents) with its
candidates' features and labels. Nothing here reads a held-back part. The decline threshold and the
variant (feature set, clause windows, regularisation, weight of the own set) are chosen on
out-of-fold predictions: folds by article (RC) or question (own set), by keyed hash, so a question is
always scored by a model that never saw its article.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval import squad

FOLDS = 5
SEED = 20261202  # sklearn's random_state
RC_NEGATIVES_DECLINED = 0.85  # issue #11: paragraph-removed questions declined
# The threshold must meet that share plus this many standard errors of a share over the fit part's negatives
# (~0.02 for ~300 of them): met only just out of fold, it is missed about every other time on held-back data.
NEGATIVES_MARGIN_SE = 1.0
OWN_NEGATIVES_DECLINED = 0.90  # issue #11: the own set's unanswerable questions declined
# The own set's negatives (13 unanswerable, 15 year-swapped in the fit part) are too few and too close to
# answerable ones for one threshold: demanding 0.90 of them declined out of fold sets it at 0.8-0.99 and
# declines ~70% of answerable RC questions. They stay training negatives; the threshold follows the RC ones.
OWN_CONSTRAINT = False
MARKER_CHARS = 3  # each piece of an answer ends with its citation marker "[n]"
GRID = np.round(np.arange(0.02, 0.995, 0.005), 3)


@dataclass(frozen=True)
class Variant:
    features: tuple[str, ...]
    windows: bool  # clause windows of long sentences are candidates
    c: float  # inverse regularisation strength
    own_weight: float  # weight of an own-set candidate row against an RC one
    balanced: bool  # class_weight="balanced"
    label: str = "y_trim"  # "y": the candidate holds the answer; "y_trim": still does once trimmed to the limit

    def describe(self) -> dict[str, Any]:
        return {"features": len(self.features), "windows": self.windows, "C": self.c,
                "own_weight": self.own_weight, "class_weight": "balanced" if self.balanced else None,
                "label": self.label}


@dataclass(frozen=True)
class Outcome:
    source: str
    answerable: bool
    probability: float  # of the best candidate (0 when there is none)
    correct: bool  # the best candidate holds the answer (after trimming to the answer limit)
    chars: int


def _cands(record: dict[str, Any], windows: bool) -> list[dict[str, Any]]:
    return [c for c in record["cands"] if windows or not c.get("window")]


def matrix(records: Sequence[dict[str, Any]], v: Variant) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, row weights) of every candidate of ``records``."""
    rows, ys, ws = [], [], []
    for r in records:
        w = v.own_weight if r["source"] == "own" else 1.0
        for c in _cands(r, v.windows):
            rows.append([np.nan if c["f"][n] is None else c["f"][n] for n in v.features])
            ys.append(c.get(v.label, c["y"]))
            ws.append(w)
    return np.array(rows, dtype=float).reshape(-1, len(v.features)), np.array(ys, dtype=int), np.array(ws)


@dataclass(frozen=True)
class Fitted:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        x = np.where(np.isnan(x), self.mean, x)
        return 1.0 / (1.0 + np.exp(-(((x - self.mean) / self.scale) @ self.coef + self.intercept)))


def train(records: Sequence[dict[str, Any]], v: Variant) -> Fitted:
    """Logistic regression on standardised features; a missing value (NaN) takes the mean."""
    from sklearn.linear_model import LogisticRegression

    x, y, w = matrix(records, v)
    mean = np.nanmean(x, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    x = np.where(np.isnan(x), mean, x)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    lr = LogisticRegression(C=v.c, class_weight="balanced" if v.balanced else None, max_iter=3000,
                            random_state=SEED)
    lr.fit((x - mean) / scale, y, sample_weight=w)
    return Fitted(mean, scale, lr.coef_[0], float(lr.intercept_[0]))


def scores(records: Sequence[dict[str, Any]], model: Fitted, v: Variant) -> list[tuple[dict[str, Any], np.ndarray]]:
    """Each record (its candidates of this variant) with every candidate's probability."""
    out = []
    for r in records:
        r = {**r, "cands": _cands(r, v.windows)}
        out.append((r, model.probabilities(matrix([r], v)[0]) if r["cands"] else np.zeros(0)))
    return out


@dataclass(frozen=True)
class Policy:
    """How probabilities become an answer: decline threshold, rules-first agreement, a second piece."""

    threshold: float
    agree: float | None = None  # rules first when the model gives their best sentence this probability
    second: float = 2.0  # a second, different candidate joins at this share of the best's probability (2: never)
    max_chars: int = 80  # each piece is trimmed to this


def _pieces_hold(cands: list[dict[str, Any]], p: np.ndarray, policy: Policy) -> tuple[bool, int]:
    """The model's answer: (it holds the answer, its length)."""
    order = np.argsort(-p, kind="stable")
    first = cands[int(order[0])]
    pieces = [first]
    for j in order[1:2]:
        other = cands[int(j)]
        if p[j] >= policy.second * p[order[0]] and other["t"] not in first["t"] and first["t"] not in other["t"]:
            pieces.append(other)
    return (any(c.get("y_trim", c["y"]) for c in pieces),
            sum(min(c["chars"], policy.max_chars) + MARKER_CHARS for c in pieces))


def decide(record: dict[str, Any], p: np.ndarray, policy: Policy) -> Outcome:
    """What the answerer does with one question (as ``FittedAnswerer.answer`` does)."""
    cands = record["cands"]
    if not cands:
        return Outcome(record["source"], record["answerable"], 0.0, False, 0)
    if policy.agree is not None:
        ok = [i for i, c in enumerate(cands) if c["f"]["admissible"] and not c.get("window")]
        if ok:
            r = max(ok, key=lambda i: cands[i]["f"]["rule_score"])
            if p[r] >= policy.agree:  # answered by the rules (their sentence, trimmed at their own limit)
                return Outcome(record["source"], record["answerable"], 1.0, bool(cands[r]["y"]), cands[r]["chars"])
    best = float(p.max())
    correct, chars = _pieces_hold(cands, p, policy)
    return Outcome(record["source"], record["answerable"], best if best >= policy.threshold else 0.0, correct, chars)


def outcomes(scored: Sequence[tuple[dict[str, Any], np.ndarray]], policy: Policy) -> list[Outcome]:
    return [decide(r, p, policy) for r, p in scored]


def fold_of(record: dict[str, Any]) -> int:
    return int(squad._unit("fold", record["source"], record["article"]) * FOLDS)


def out_of_fold(records: Sequence[dict[str, Any]], v: Variant) -> list[tuple[dict[str, Any], np.ndarray]]:
    """Each record scored by the model fitted on the other folds."""
    out: list[tuple[dict[str, Any], np.ndarray]] = []
    for k in range(FOLDS):
        train_part = [r for r in records if fold_of(r) != k]
        test_part = [r for r in records if fold_of(r) == k]
        if test_part:
            out.extend(scores(test_part, train(train_part, v), v))
    return out


def figures(results: Sequence[Outcome], threshold: float) -> dict[str, float | int]:
    """At a threshold: answered with a right candidate, wrongly declined, negatives declined, median chars."""
    pos = [r for r in results if r.answerable]
    neg = [r for r in results if not r.answerable]
    answered = [r.chars for r in pos if r.probability >= threshold]
    return {
        "answerable": len(pos),
        "answered_correct": round(sum(r.probability >= threshold and r.correct for r in pos) / max(len(pos), 1), 4),
        "wrongly_declined": round(sum(r.probability < threshold for r in pos) / max(len(pos), 1), 4),
        "median_chars": float(np.median(answered)) if answered else 0.0,
        "negatives": len(neg),
        "negatives_declined": round(sum(r.probability < threshold for r in neg) / max(len(neg), 1), 4),
    }


def _rules_pick(record: dict[str, Any], p: np.ndarray, agree: float | None) -> bool:
    """Whether the rules answer this question under ``agree`` (see ``decide``)."""
    if agree is None:
        return False
    ok = [i for i, c in enumerate(record["cands"]) if c["f"]["admissible"] and not c.get("window")]
    return bool(ok) and p[max(ok, key=lambda i: record["cands"][i]["f"]["rule_score"])] >= agree


def choose_threshold(scored: Sequence[tuple[dict[str, Any], np.ndarray]], agree: float | None) -> float:
    """The lowest threshold (fewest false declines) declining the issue's share of negatives, plus a sampling
    margin (``NEGATIVES_MARGIN_SE``), on every source: paragraph-removed RC questions (and the own set's
    unanswerable and year-swapped questions when ``OWN_CONSTRAINT``)."""
    need = True
    for source in {r["source"] for r, _ in scored} - ({"own"} if not OWN_CONSTRAINT else set()):
        negs = [(r, p) for r, p in scored if r["source"] == source and not r["answerable"]]
        if not negs:
            continue
        target = OWN_NEGATIVES_DECLINED if source == "own" else RC_NEGATIVES_DECLINED
        target += NEGATIVES_MARGIN_SE * float(np.sqrt(target * (1 - target) / len(negs)))
        rules = np.array([_rules_pick(r, p, agree) for r, p in negs])
        best = np.array([p.max() if len(p) else 0.0 for _, p in negs])
        declined = ((~rules)[None, :] & (best[None, :] < GRID[:, None])).mean(axis=1)
        need = need & (declined >= target)
    meets = np.flatnonzero(need)
    return float(GRID[meets[0]] if len(meets) else GRID[-1])


def report(results: Sequence[Outcome], policy: Policy) -> dict[str, Any]:
    sources = sorted({r.source for r in results})
    per = {s: figures([r for r in results if r.source == s], 1e-9) for s in sources}
    return {"threshold": policy.threshold, "agree": policy.agree, "second_ratio": policy.second, **per,
            "objective": round(float(np.mean([per[s]["answered_correct"] for s in sources])), 4)}


AGREE = (None, 0.35, 0.5, 0.65)  # rules-first combinations tried (None: the model alone)
SECOND = (0.35, 0.5, 2.0)  # second-piece ratios tried (2: never)


def choose(records: Sequence[dict[str, Any]], variants: Sequence[Variant], max_chars: int
           ) -> tuple[Variant, Policy, list[dict[str, Any]]]:
    """The variant and policy with the best out-of-fold objective (mean share answered right over the
    sources) whose median answer on every RC source is within ``max_chars``; every one tried, with figures."""
    tried = []
    for v in variants:
        oof = out_of_fold(records, v)
        for agree in AGREE:
            t = choose_threshold(oof, agree)
            for second in SECOND:
                policy = Policy(t, agree, second, max_chars)
                tried.append((v, policy, report(outcomes(oof, policy), policy)))
            print(v.describe(), agree, tried[-1][2], flush=True)
    fine = [x for x in tried if all(x[2][s]["median_chars"] <= max_chars for s in x[2] if s in ("cmrc", "drcd"))]
    best = max(fine or tried, key=lambda x: x[2]["objective"])
    return best[0], best[1], [{"variant": v.describe(), "out_of_fold": r} for v, _, r in tried]
