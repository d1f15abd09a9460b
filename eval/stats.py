"""The few summary statistics every eval report uses, defined once so the reports agree.

A figure with nothing to summarise is ``None`` (JSON null, "—" in tables), never 0: an empty group must
not pass or fail a gate by accident.
"""

from __future__ import annotations

from collections.abc import Iterable
from statistics import fmean

import numpy as np


def mean(values: Iterable[float | bool | None], ndigits: int = 4) -> float | None:
    """Mean of the values that are not ``None``, rounded; ``None`` when there are none."""
    present = [float(v) for v in values if v is not None]
    return round(fmean(present), ndigits) if present else None


def ratio(num: float, den: float, ndigits: int = 4) -> float | None:
    """``num / den`` rounded; ``None`` when the denominator is 0."""
    return round(num / den, ndigits) if den else None


def percentile(values: Iterable[float | None], q: float, ndigits: int | None = None) -> float | None:
    """Linear-interpolated ``q``-th percentile of the values that are not ``None`` (numpy's default method).

    ``ndigits``: round the result; ``None`` keeps it as computed. ``None`` when no value is present.
    """
    present = [float(v) for v in values if v is not None]
    if not present:
        return None
    value = float(np.percentile(present, q))
    return value if ndigits is None else round(value, ndigits)
