"""``python -m eval scale`` at its smallest size: the report's structure, and that updates cost what changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.__main__ import main
from eval.scale_report import METRICS, SLOPES, slope, value


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    root = tmp_path_factory.mktemp("scale")
    code = main(["scale", "--sizes", "300", "--out", str(root / "out"), "--work", str(root / "work"),
                 "--queries", "5", "--embedder", "stand-in", "--model-sample", "4"])
    assert code == 0
    return json.loads((root / "out" / "scale.json").read_text(encoding="utf-8")), root / "out"


def test_report_has_every_figure_a_table_and_a_plot(scale_run: tuple[dict, Path]) -> None:
    result, out = scale_run
    (row,) = result["sizes"]
    assert row["size"] == 300 and 250 <= row["passages"] <= 350 and row["embedder"] == "stand-in"
    for label, spec in METRICS:
        assert value(row, spec) is not None, label
    assert set(result["slopes"]) == set(SLOPES) and result["model"]["s_per_passage"] > 0
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "StandInEmbedding" in report and "warm retrieval p50 (ms)" in report
    assert (out / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_updates_write_only_the_document_that_changed(scale_run: tuple[dict, Path]) -> None:
    (row,) = scale_run[0]["sizes"]
    assert row["cold"]["segment"] == "sealed" and row["cold"]["rows_written"] == row["passages"]
    assert row["nochange"]["unchanged"] and row["nochange"]["rows_written"] == 0
    add, change, remove = row["add"], row["change"], row["remove"]
    assert add["segment"] == "delta" and 5 <= add["rows_written"] <= 20  # one generated document's passages
    assert add["embedded"] == add["rows_written"] and add["passages"] == row["passages"] + add["rows_written"]
    assert change["segment"] == "delta" and change["rows_written"] == add["rows_written"]
    assert remove["segment"] == "" and remove["rows_written"] == 0 and remove["passages"] == row["passages"]


@pytest.mark.parametrize(("xs", "ys", "expected"), [
    ([300, 3000, 30000], [1.0, 1.0, 1.0], 0.0),
    ([300, 3000, 30000], [1.0, 10.0, 100.0], 1.0),
    ([1000], [5.0], None),
])
def test_log_log_slope(xs: list[float], ys: list[float], expected: float | None) -> None:
    assert slope(xs, ys) == expected
