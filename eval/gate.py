"""The quality gate: compare one pipeline's overall metrics with ``eval/thresholds.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.metrics import METRIC_KEYS

DEFAULT_THRESHOLDS = Path(__file__).with_name("thresholds.toml")


class ThresholdsError(ValueError):
    """The thresholds file is unreadable or names a metric that does not exist."""


@dataclass(frozen=True)
class Check:
    metric: str
    bound: str  # "min" | "max"
    limit: float
    value: float | None

    @property
    def skipped(self) -> bool:
        return self.value is None

    @property
    def passed(self) -> bool:
        if self.value is None:
            return True
        return self.value >= self.limit if self.bound == "min" else self.value <= self.limit

    def describe(self) -> str:
        if self.skipped:
            return f"SKIP {self.metric}: undefined for this question set"
        op = ">=" if self.bound == "min" else "<="
        verdict = "ok  " if self.passed else "FAIL"
        return f"{verdict} {self.metric} = {self.value:g} (needs {op} {self.limit:g})"


def load_thresholds(path: Path = DEFAULT_THRESHOLDS) -> dict[str, dict[str, float]]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ThresholdsError(f"{path}: cannot read thresholds ({exc})") from exc
    out: dict[str, dict[str, float]] = {}
    for bound in ("min", "max"):
        table: Any = data.get(bound, {})
        for metric, limit in table.items():
            if metric not in METRIC_KEYS:
                raise ThresholdsError(
                    f"{path}: [{bound}] names unknown metric '{metric}'; known: {METRIC_KEYS}"
                )
            if not isinstance(limit, int | float) or isinstance(limit, bool):
                raise ThresholdsError(f"{path}: [{bound}] {metric} must be a number")
            out.setdefault(bound, {})[metric] = float(limit)
    return out


def check_gate(summary: dict[str, Any], thresholds: dict[str, dict[str, float]]) -> list[Check]:
    """One ``Check`` per threshold, in file order (minimums first)."""
    return [
        Check(metric, bound, limit, summary.get(metric))
        for bound in ("min", "max")
        for metric, limit in thresholds.get(bound, {}).items()
    ]
