"""``python -m eval fit-fusion`` (eval/fit_fusion.py): the grid search that chooses the fusion weights on the
fit part of each question set, and the file it writes with its provenance."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT, Settings
from eval.fit_fusion import FITTED, GRID, parse_grid

# two questions on fit documents (温州 001, 乐清 002) and two on held-back ones (聊城 004, 朔州 003), with lay forms
IDS = {"q023", "q031", "q001", "q010"}


@pytest.mark.parametrize(
    ("text", "changed"),
    [
        (None, {}),
        ("rrf_k=10,20", {"rrf_k": (10.0, 20.0)}),
        ("rrf_k=10;char_weight=0,1.5", {"rrf_k": (10.0,), "char_weight": (0.0, 1.5)}),
        (" char_weight = 1 ;", {"char_weight": (1.0,)}),
    ],
)
def test_parse_grid(text: str | None, changed: dict[str, tuple[float, ...]]) -> None:
    assert parse_grid(text) == {**GRID, **changed}


def test_parse_grid_names_only_known_axes() -> None:
    with pytest.raises(ValueError, match="unknown grid axis"):
        parse_grid("dense_weight=2")


def _subset(source: Path, target: Path, ids: set[str]) -> Path:
    lines = [line for line in source.read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line)["id"].removesuffix("-lay") in ids]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def test_fit_fusion_writes_values_from_its_grid_with_provenance(
    corpus_index: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tiny grid on a tiny set: the chosen point is a grid point, the provenance names the data, split,
    metric and grid and reports the held-back part, and a second run writes the same values."""
    from eval.__main__ import main

    own = _subset(PROJECT_ROOT / "eval" / "questions.jsonl", tmp_path / "own.jsonl", IDS)
    lay = _subset(PROJECT_ROOT / "eval" / "lay_questions.jsonl", tmp_path / "lay.jsonl", IDS)
    grid = "rrf_k=5,60;sparse_weight=1;char_weight=0,1;exact_place_factor=1.15"
    outs = []
    for run in ("a", "b"):
        out = tmp_path / f"fusion_{run}.toml"
        argv = ["fit-fusion", "--questions", str(own), str(lay), "--index-dir", str(corpus_index.index_dir),
                "--corpus", str(corpus_index.corpus_dir), "--grid", grid, "--out", str(out)]
        assert main(argv) == 0
        outs.append(tomllib.loads(out.read_text(encoding="utf-8")))
    fitted, provenance = outs[0]["fitted"], outs[0]["provenance"]
    assert outs[1]["fitted"] == fitted
    assert set(fitted) == set(FITTED)
    assert fitted["rrf_k"] in (5.0, 60.0) and fitted["char_weight"] in (0.0, 1.0)
    assert (fitted["sparse_weight"], fitted["exact_place_factor"], fitted["dense_weight"]) == (1.0, 1.15, 1.0)
    assert provenance["fit_questions"] == [2, 2] and provenance["heldout_questions"] == [2, 2]
    assert provenance["grid_rrf_k"] == [5.0, 60.0] and "hit@5" in provenance["metric"]
    assert [d.split(" ")[0] for d in provenance["data"]] == ["own.jsonl", "lay.jsonl"]
    assert len(provenance["heldout_hit5"]) == 2
    assert "held-back hit@5 lay.jsonl" in capsys.readouterr().out
