"""Every regular expression of the package runs in (near) linear time on hostile text.

Python's ``re`` backtracks: one pattern that is quadratic or worse on a long run of digits, 一, 、 or spaces
lets a single 12 KB request hold the GIL for minutes and freeze the whole server (issue #16). This test
collects every compiled pattern the package holds — module attributes, patterns inside module-level
containers and classes, and those the loaders compile from ``data/*.toml`` — and runs ``search`` and
``finditer`` over adversarial strings. The time limits are generous: they only catch catastrophic
(super-linear) blow-ups, not slowness.

Patterns written inline in a function (``re.search(r"…", text)``) are not reachable as objects: a new one
that reads user text belongs at module level, where this test sees it.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import math
import pkgutil
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import assistant
from assistant.settings import prepare_offline_environment

prepare_offline_environment()

PACKAGE_DIR = Path(assistant.__file__).parent

# Functions that compile patterns from the data files: (module, function) -> called once to collect them.
LOADERS: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("assistant.qa.citing", "_claim_patterns"): lambda module: module._claim_patterns(),
    ("assistant.server.logs", "_rules"): lambda module: module._rules(),
    ("assistant.corpus.lifecycle_extract", "_rules"): lambda module: module._rules(),
    ("assistant.core.lexicon", "pattern"): lambda module: module.compiled_patterns(),
}

# Module-level tables of regex *strings* that the code hands to re.search: compiled here to be checked too.
STRING_TABLES: tuple[tuple[str, str], ...] = ()

FULL_CHARS = 20000  # the adversarial strings are this long at full size
FULL_LIMIT = 1.0  # seconds per pattern and string at full size; linear patterns take milliseconds
STEPS = (100, 20, 5)  # the strings at 1/100, 1/20 and 1/5 size first, so a broken pattern fails fast

# name: (prefix, unit repeated to the wanted length, suffix)
ADVERSARIAL: dict[str, tuple[str, str, str]] = {
    "digits": ("", "1", ""),
    "cn_digits": ("", "一", ""),
    "dunhao": ("", "、", ""),
    "digit_dunhao": ("", "1、", ""),
    "cn_then_digit": ("", "一1", ""),
    "fullwidth_digits": ("", "１", ""),
    "decimals": ("", "1.1", ""),
    "wanyuan": ("", "万元", ""),
    "wan": ("", "万", ""),
    "mixed_units": ("", "12万元3人4.5%6年7亿8元九十", ""),
    "cn_amounts": ("", "三千五百万", ""),
    "open_paren": ("", "（", ""),
    "open_paren_ascii": ("", "(", ""),
    "spaces": ("", " ", ""),
    "digit_then_spaces": ("1", " ", "x"),
    "year_then_spaces": ("2019", " ", "x"),
    "digit_spaces": ("", "1 ", ""),
    "keyword_then_digits": ("营业收入", "1", "x"),
    "keyword_then_cn": ("员工", "一", "x"),
    "keyword_then_spaces": ("成立", " ", "1x"),
    "commas": ("", "1,000", ""),
    "quotes": ("", "“", ""),
    "brackets": ("", "[1", ""),
    "book_title": ("", "《", ""),
    "newlines": ("", "\n", ""),
    "letters": ("", "Aa", ""),
    "words": ("", "which ", ""),
}


def _adversarial(name: str, chars: int) -> str:
    prefix, unit, suffix = ADVERSARIAL[name]
    return prefix + unit * max(1, chars // len(unit)) + suffix


def _modules() -> Iterator[Any]:
    yield assistant
    for info in pkgutil.walk_packages(assistant.__path__, prefix="assistant."):
        yield importlib.import_module(info.name)


def _patterns_in(value: Any, name: str, depth: int) -> Iterator[tuple[str, re.Pattern[Any]]]:
    """Patterns in a value: itself, or (depth levels down) in a dict, list, tuple, set or dataclass."""
    if isinstance(value, re.Pattern):
        yield name, value
        return
    if depth == 0:
        return
    if isinstance(value, dict):
        items = [(f"{name}[{k!r}]", v) for k, v in value.items()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = [(f"{name}[{i}]", v) for i, v in enumerate(value)]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [(f"{name}.{f.name}", getattr(value, f.name)) for f in dataclasses.fields(value)]
    elif isinstance(value, type):
        items = [(f"{name}.{k}", v) for k, v in vars(value).items() if not k.startswith("__")]
    else:
        return
    for sub_name, sub in items:
        yield from _patterns_in(sub, sub_name, depth - 1)


def _compiled(table: Any) -> Any:
    """A table of regex strings (a dict, or a tuple of (name, regex) pairs) with each regex compiled."""
    if isinstance(table, dict):
        return {k: re.compile(v) for k, v in table.items()}
    return [(name, re.compile(regex)) for name, regex in table]


def collect_patterns() -> dict[str, re.Pattern[Any]]:
    """Every pattern the package holds, by ``module.name`` (each object once, under its first name)."""
    found: dict[str, re.Pattern[Any]] = {}
    seen: set[int] = set()
    for module in sorted(_modules(), key=lambda m: m.__name__):
        roots = list(vars(module).items())
        roots += [
            (f"{fn}()", loader(module)) for (mod, fn), loader in LOADERS.items() if mod == module.__name__
        ]
        roots += [(attr, _compiled(getattr(module, attr))) for mod, attr in STRING_TABLES if mod == module.__name__]
        for attr, value in roots:
            if isinstance(value, type) and value.__module__ != module.__name__:
                continue  # an imported class: collected where it is defined
            for name, pattern in _patterns_in(value, f"{module.__name__}.{attr}", depth=3):
                if id(pattern) not in seen:
                    seen.add(id(pattern))
                    found[name] = pattern
    return found


PATTERNS = collect_patterns()


def _seconds(pattern: re.Pattern[Any], text: str, limit: float) -> float:
    """Time of a consumed finditer (its first step is ``search``, so a slow search shows here too); a run over
    the limit is retried (a busy machine is not a blow-up)."""
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in pattern.finditer(text):
            pass
        best = min(best, time.perf_counter() - start)
        if best < limit:
            break
    return best


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_pattern_is_linear_on_adversarial_text(name: str) -> None:
    pattern = PATTERNS[name]
    if isinstance(pattern.pattern, bytes):
        pytest.skip("bytes pattern: never sees user text")
    for kind in ADVERSARIAL:
        for divisor in (*STEPS, 1):
            chars = FULL_CHARS // divisor
            text = _adversarial(kind, chars)
            limit = max(0.1, FULL_LIMIT / divisor)
            elapsed = _seconds(pattern, text, limit)
            assert elapsed < limit, (
                f"{name} took {elapsed:.2f}s on {kind!r} ({len(text)} chars; limit {limit}s): "
                f"it backtracks super-linearly: {pattern.pattern!r}"
            )


def test_collects_the_known_patterns() -> None:
    """The collector reaches module attributes, containers and the loaders' patterns (guards the test itself)."""
    assert len(PATTERNS) >= 100
    for name in (
        "assistant.decisions.eligibility.profile_text._EMPLOYEES[1]",
        "assistant.decisions.eligibility.profile_text._REVENUE[1]",
        "assistant.core.lexicon._COMPILED[('eligibility', 'figures.measure.revenue', 0)]",
        "assistant.decisions.eligibility.grants._STRONG",
        "assistant.decisions.eligibility.spans._EXCLUDE[0]",
        "assistant.core.outline._HEADINGS[0][1]",
        "assistant.retrieval.plan._KIND_PATTERNS['list']",
    ):
        assert name in PATTERNS, sorted(PATTERNS)


def _compile_calls() -> Iterator[tuple[str, str, int]]:
    """(module, enclosing function or "", line) of every re.compile call in the package's source."""
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        module = "assistant." + ".".join(path.relative_to(PACKAGE_DIR).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
        for node in ast.walk(tree):
            func = node.func if isinstance(node, ast.Call) else None
            if isinstance(func, ast.Attribute) and func.attr == "compile" and getattr(func.value, "id", "") == "re":
                scope, up = "", parents.get(node)
                while up is not None:
                    if isinstance(up, ast.FunctionDef | ast.AsyncFunctionDef):
                        scope = up.name
                    up = parents.get(up)
                yield module, scope, node.lineno


def test_every_compiled_pattern_is_covered() -> None:
    """A re.compile inside a function is only collected through LOADERS: a new one must be listed there."""
    uncovered = [
        f"{module}:{line} in {scope}()"
        for module, scope, line in _compile_calls()
        if scope and (module, scope) not in LOADERS
    ]
    assert not uncovered, f"add these pattern builders to LOADERS in tests/test_patterns.py: {uncovered}"
