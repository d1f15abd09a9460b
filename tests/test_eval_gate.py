"""The project's own question set through the product, offline, with the quality gate of eval/thresholds.toml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.slow


def test_question_set_passes_the_quality_gate(corpus_index: Settings, tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = subprocess.run(
        [
            sys.executable, "-m", "eval", "run",
            "--questions", str(PROJECT_ROOT / "eval" / "questions.jsonl"),
            "--corpus", str(corpus_index.corpus_dir),
            "--index-dir", str(corpus_index.index_dir),
            "--compare", "hybrid", "--gate", "--no-progress", "--out", str(out),
        ],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    print(proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["questions"] >= 120
    for name in ("metrics.json", "results.jsonl", "report.md"):
        assert (out / name).exists()
    assert list(out.glob("*.png"))
