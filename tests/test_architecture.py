"""The tree is the architecture: stages import one way, and no two modules import each other.

Imports are read from the source (every ``import`` statement, including those inside functions), so a
lazy import cannot hide an upward dependency or a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"

# Lowest first: a module may import its own stage and any stage before it, never one after it.
# ``settings`` is read by every stage; ``assistant`` (the package's __init__) is the public API, which only
# the surfaces above it (storage, api, ui, server, cli) may use.
STAGES = [
    "settings",
    "core",
    "corpus",
    "index",
    "retrieval",
    "qa",
    "decisions",
    "assistant",
    "storage",
    "api",
    "ui",
    "server",
    "cli",
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "assistant"


def _imports(path: Path) -> set[str]:
    """Every ``assistant`` module that ``path`` imports, wherever the statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "assistant")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != "assistant":
                continue
            # ``from assistant.index import store`` imports the module assistant.index.store
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / (child.replace(".", "/") + ".py")).exists() or (
                    PACKAGE.parent / child.replace(".", "/") / "__init__.py"
                ).exists()
                found.add(child if is_module else node.module)
    return found


GRAPH = {_module_name(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def test_every_module_belongs_to_a_stage() -> None:
    assert {_stage(m) for m in GRAPH} <= set(STAGES)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down_the_stages(module: str) -> None:
    rank = STAGES.index(_stage(module))
    upward = sorted(dep for dep in GRAPH[module] if STAGES.index(_stage(dep)) > rank)
    assert not upward, f"{module} ({_stage(module)}) imports a later stage: {upward}"


def _cycle_from(start: str) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for dep in GRAPH.get(node, ()):
            if dep == start:
                return [*path, dep]
            if dep not in seen and dep in GRAPH:
                seen.add(dep)
                stack.append((dep, [*path, dep]))
    return None


def test_no_import_cycle() -> None:
    # A package's __init__ re-exporting its own modules is not a cycle worth the name; skip those edges.
    cycles = []
    for module in GRAPH:
        cycle = _cycle_from(module)
        if cycle and not any(b.startswith(a + ".") for a, b in zip(cycle, cycle[1:], strict=False)):
            cycles.append(" -> ".join(cycle))
    assert not cycles, "\n".join(sorted(cycles)[:10])


def test_the_checker_sees_an_upward_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from assistant.ui import render\n    import assistant.qa.engine\n")
    assert _imports(sample) == {"assistant.ui.render", "assistant.qa.engine"}


def test_chunk_meta_names_every_chunk_metadata_key() -> None:
    from assistant.core.schema import CHUNK_METADATA_KEYS, ChunkMeta

    assert tuple(ChunkMeta.__annotations__) == CHUNK_METADATA_KEYS
