"""The project's own question set through the product, offline, with the quality gate of eval/thresholds.toml.

In-process on the session's engine (``python -m eval run --gate`` with the product pipeline only); the gate
is then shown to fail on these same figures once a threshold sits just past one of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import eval.pipelines
from assistant.settings import PROJECT_ROOT, Settings
from eval.__main__ import main as eval_main
from eval.gate import check_gate, load_thresholds
from eval.run import gate_exit

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gate_run(
    corpus_index: Settings, engine, tmp_path_factory: pytest.TempPathFactory
) -> tuple[int, Path, str]:
    """(exit code, report folder, printed output) of ``eval run --compare hybrid --gate`` on ``engine``."""
    def product_only(names: list[str], settings: Settings) -> list[eval.pipelines.Pipeline]:
        assert list(names) == ["hybrid"] and settings.index_dir == corpus_index.index_dir
        return [eval.pipelines.ProductPipeline(settings, engine=engine)]

    out = tmp_path_factory.mktemp("gate") / "report"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(eval.pipelines, "build_pipelines", product_only)
        capture = _Capture()
        with capture:
            code = eval_main([
                "run",
                "--questions", str(PROJECT_ROOT / "eval" / "questions.jsonl"),
                "--corpus", str(corpus_index.corpus_dir),
                "--index-dir", str(corpus_index.index_dir),
                "--compare", "hybrid", "--gate", "--no-progress", "--out", str(out),
            ])  # fmt: skip
    return code, out, capture.text


class _Capture:
    """stdout of a module-scoped call (capsys is per test)."""

    def __enter__(self) -> None:
        import contextlib
        import io

        self._buffer = io.StringIO()
        self._redirect = contextlib.redirect_stdout(self._buffer)
        self._redirect.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._redirect.__exit__(*exc)
        self.text = self._buffer.getvalue()


def test_question_set_passes_the_quality_gate(gate_run: tuple[int, Path, str]) -> None:
    code, out, printed = gate_run
    print(printed[-3000:])
    assert code == 0, printed[-3000:]
    assert "gate passed" in printed
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["questions"] >= 120
    for name in ("metrics.json", "results.jsonl", "report.md"):
        assert (out / name).exists()
    assert list(out.glob("*.png"))


def test_the_gate_fails_once_a_metric_is_past_its_threshold(
    gate_run: tuple[int, Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The same real figures against thresholds moved just past them, one metric at a time: exit 1, named."""
    _, out, _ = gate_run
    hybrid = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["pipelines"]["hybrid"]
    shipped = load_thresholds()
    assert all(c.passed for c in check_gate(hybrid, shipped))
    checked = 0
    for bound, table in shipped.items():
        for metric in table:
            value = hybrid.get(metric)
            if value is None:
                continue
            moved = {b: dict(t) for b, t in shipped.items()}
            moved[bound][metric] = value + 1e-6 if bound == "min" else value - 1e-6
            capsys.readouterr()
            assert gate_exit(hybrid, moved) == 1, metric
            captured = capsys.readouterr()
            assert f"FAIL {metric} =" in captured.out and f"gate FAILED: {metric}" in captured.err
            checked += 1
    assert checked >= 8
