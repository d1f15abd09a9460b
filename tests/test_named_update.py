"""``policy-qa index FILE…``: an update of named files leaves the index as a rescan of the folder would,
without listing the folder, and rescans where the names cannot decide."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.index import named
from assistant.index.build import update_index
from assistant.index.layout import Layout
from assistant.index.scan import read_scan, scan_corpus
from assistant.settings import Settings

GAMMA = "丙市人才新政\n\n一、人才安居\n对引进的博士给予安家补贴{n}万元。\n二、企业奖励\n对首次升规的企业奖励{n}0万元。\n"


def _listed_order(settings: Settings) -> list[str]:
    files, _ = scan_corpus(settings.corpus_dir, {})
    return [f.doc_id for f in files]


def _as_a_rescan_leaves_it(settings: Settings) -> None:
    """The current build holds what a rescan finds, in the listing's order, and a rescan changes nothing."""
    meta = Layout(settings.index_dir).current_meta()
    assert meta is not None and list(meta["documents"]) == _listed_order(settings)
    assert update_index(settings, progress=False).unchanged


@pytest.fixture
def no_listing(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts rescans (the folder listed and every file stat-ed) made by an update."""
    calls: list[int] = []

    def counted(*args, **kwargs):
        calls.append(1)
        return scan_corpus(*args, **kwargs)

    monkeypatch.setattr(named, "scan_corpus", counted)
    return calls


def test_named_files_update_as_a_rescan_would_without_listing(small_settings: Settings, small_corpus: Path,
                                                             no_listing: list[int]) -> None:
    update_index(small_settings, progress=False)
    no_listing.clear()
    (small_corpus / "sub").mkdir()
    for rel, n in (("gamma.txt", 1), ("sub/delta.txt", 2), ("0_first.txt", 3)):  # last, middle, first in order
        (small_corpus / rel).write_text(GAMMA.format(n=n), encoding="utf-8")
        report = update_index(small_settings, progress=False, paths=[small_corpus / rel])
        assert report.added == [rel] and report.segment == "delta"
    alpha = small_corpus / "alpha_city_measures.txt"
    alpha.write_text(alpha.read_text(encoding="utf-8").replace("20万元", "30万元"), encoding="utf-8")
    (small_corpus / "beta_county_opinions.txt").unlink()
    report = update_index(small_settings, progress=False,
                          paths=[alpha, small_corpus / "beta_county_opinions.txt", small_corpus / "nowhere.txt"])
    assert report.changed == ["alpha_city_measures.txt"] and report.removed == ["beta_county_opinions.txt"]
    assert [s.file for s in report.skipped] == ["nowhere.txt"]  # named but neither there nor indexed: said so
    assert no_listing == []  # none of these listed the folder
    # the scan records were appended to, so the next rescan reads none of these files again
    records = read_scan(small_settings.index_dir, Layout(small_settings.index_dir).current_meta()["pipeline_version"])
    assert set(records) == set(_listed_order(small_settings))
    files, _ = scan_corpus(small_corpus, records)
    assert all(f.doc is None for f in files)
    _as_a_rescan_leaves_it(small_settings)


@pytest.mark.parametrize("case", ["stem taken", "identical bytes", "manifest"])
def test_names_that_cannot_decide_fall_back_to_a_rescan(small_settings: Settings, small_corpus: Path,
                                                        no_listing: list[int], case: str) -> None:
    update_index(small_settings, progress=False)
    no_listing.clear()
    if case == "stem taken":  # the id of either file depends on which comes first in the folder
        name = "alpha_city_measures.md"
        (small_corpus / name).write_text(GAMMA.format(n=4), encoding="utf-8")
    elif case == "identical bytes":  # which copy is kept depends on the folder's order
        name = "0_copy.txt"
        shutil.copyfile(small_corpus / "beta_county_opinions.txt", small_corpus / name)
    else:  # a manifest entry can change any document
        name = "manifest.toml"
        (small_corpus / name).write_text('["beta_county_opinions.txt"]\ntitle = "乙县意见"\n', encoding="utf-8")
    update_index(small_settings, progress=False, paths=[small_corpus / name])
    assert no_listing == [1]
    _as_a_rescan_leaves_it(small_settings)


def test_cli_index_of_named_files_and_its_errors(small_settings: Settings, small_corpus: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--index-dir", str(small_settings.index_dir), "index", "--corpus", str(small_corpus), "--quiet"]
    assert main(base) == 0
    (small_corpus / "gamma.txt").write_text(GAMMA.format(n=5), encoding="utf-8")
    capsys.readouterr()
    assert main([*base, str(small_corpus / "gamma.txt")]) == 0
    assert "gamma.txt" in capsys.readouterr().out
    outside = tmp_path / "elsewhere.txt"
    outside.write_text(GAMMA.format(n=6), encoding="utf-8")
    assert main([*base, str(outside)]) == 2
    assert "不在语料目录" in capsys.readouterr().err
    assert main([*base, "--rebuild", str(small_corpus / "gamma.txt")]) == 2
    assert "--rebuild" in capsys.readouterr().err


def test_named_files_are_taken_relative_to_the_corpus_folder_even_through_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    assert named.relative_names(tmp_path / "link", [real / "sub" / "a.txt", tmp_path / "link" / "b.txt"]) == [
        "sub/a.txt", "b.txt"]
    assert named.relative_names(real, [tmp_path / "link" / "sub" / "a.txt"]) == ["sub/a.txt"]
    for outside in (tmp_path / "c.txt", real, tmp_path):
        with pytest.raises(named.NamedFileError, match="不在语料目录"):
            named.relative_names(real, [outside])


def test_a_named_file_that_is_no_document_is_said_so(small_settings: Settings, small_corpus: Path) -> None:
    update_index(small_settings, progress=False)
    (small_corpus / "table.csv").write_text("a,b\n", encoding="utf-8")
    report = update_index(small_settings, progress=False, paths=[small_corpus / "table.csv"])
    assert report.unchanged and [s.file for s in report.skipped] == ["table.csv"]
    assert "不支持的格式" in report.skipped[0].reason
