"""Word lists and pattern tables: the data files under ``assistant/data/``, each read once per process.

Rules live in data so that a reviewer can read and change them without reading code; code keeps only
the logic that applies them. Every loader in the package goes through here, so the files ship as package
data and nothing reads from the repository root.
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from typing import Any


def data_text(name: str) -> str:
    """The text of ``assistant/data/<name>`` (a packaged file)."""
    return resources.files("assistant").joinpath("data", name).read_text(encoding="utf-8")


def data_bytes(name: str) -> bytes:
    return resources.files("assistant").joinpath("data", name).read_bytes()


@cache
def table(name: str) -> dict[str, Any]:
    """``assistant/data/<name>.toml`` parsed once. Callers must not mutate the result."""
    return tomllib.loads(data_text(f"{name}.toml"))


def words(name: str, key: str) -> tuple[str, ...]:
    """A word list: ``key`` (dotted for nested tables) of ``<name>.toml``."""
    value: Any = table(name)
    for part in key.split("."):
        value = value[part]
    return tuple(value)


_COMPILED: dict[tuple[str, str, int], re.Pattern[str]] = {}


def pattern(name: str, key: str, flags: int = 0) -> re.Pattern[str]:
    """A regular expression stored as a string under ``key`` of ``<name>.toml``, compiled once."""
    found = _COMPILED.get((name, key, flags))
    if found is None:
        value: Any = table(name)
        for part in key.split("."):
            value = value[part]
        found = _COMPILED[(name, key, flags)] = re.compile(value, flags)
    return found


def compiled_patterns() -> dict[str, re.Pattern[str]]:
    """Every pattern compiled so far, by ``file:key`` (tests/test_patterns.py times each on hostile text)."""
    return {f"{name}:{key}": compiled for (name, key, _), compiled in _COMPILED.items()}
