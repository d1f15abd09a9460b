"""``python -m eval scale`` at its smallest size: the report's structure, and that updates cost what changed."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from eval.__main__ import main
from eval.scale_report import METRICS, SLOPES, slope, value


def _child_here(argv: list[str]) -> dict:
    """A measurement child's work in this process (its JSON line as the child prints it): the benchmark's children
    exist for their own peak RSS, which this test only checks is reported; starting three interpreters cost ~10 s."""
    from eval import scale

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert scale._child_main(argv) == 0
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    root = tmp_path_factory.mktemp("scale")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("eval.scale._child", _child_here)
        code = main(["scale", "--sizes", "300", "--out", str(root / "out"), "--work", str(root / "work"),
                     "--queries", "5", "--embedder", "stand-in", "--model-sample", "4", "--repeat", "2"])
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
    assert row["nochange"]["unchanged"] and row["nochange"]["rows_written"] == 0 and row["add"]["rounds"] == 2
    add, change, remove = row["add"], row["change"], row["remove"]
    assert add["segment"] == "delta" and 5 <= add["rows_written"] <= 20  # one generated document's passages
    assert add["embedded"] == add["rows_written"] and add["passages"] == row["passages"] + add["rows_written"]
    assert change["segment"] == "delta" and 5 <= change["rows_written"] <= 20  # (each row: a round's median)
    assert remove["segment"] == "" and remove["rows_written"] == 0 and remove["passages"] == row["passages"]
    named = row["add_named"], row["change_named"], row["remove_named"]  # the same changes, the files named
    assert [r["segment"] for r in named] == ["delta", "delta", ""] and named[2]["rows_written"] == 0
    assert all(5 <= r["rows_written"] <= 20 for r in named[:2]) and named[2]["passages"] == row["passages"]


def test_a_rerun_on_the_same_indexes_keeps_the_earlier_cold_build(scale_run: tuple[dict, Path], tmp_path: Path
                                                                  ) -> None:
    """``--cold``: the updates are timed again on the index the first run left (no cold build), and the report's
    cold-build rows are the first run's, said so."""
    first, out = scale_run
    work = out.parent / "work"
    stamp = (work / "n300" / "index" / "CURRENT").stat().st_mtime_ns
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("eval.scale._child", _child_here)
        code = main(["scale", "--sizes", "300", "--out", str(tmp_path / "again"), "--work", str(work), "--queries",
                     "2", "--embedder", "stand-in", "--model-sample", "0", "--repeat", "1", "--cold",
                     str(out / "scale.json")])
        assert main(["scale", "--sizes", "300,3000", "--work", str(work), "--cold", str(out / "scale.json")]) == 2
    assert code == 0
    (row,) = json.loads((tmp_path / "again" / "scale.json").read_text(encoding="utf-8"))["sizes"]
    (before,) = first["sizes"]
    assert row["cold"] == before["cold"] and row["build_peak_rss_mb"] == before["build_peak_rss_mb"]
    assert row["nochange"]["unchanged"] and row["add"]["rows_written"] > 0 and row["add"]["rounds"] == 1
    assert (work / "n300" / "index" / "CURRENT").stat().st_mtime_ns != stamp  # the updates ran on that index
    assert "earlier run's" in (tmp_path / "again" / "report.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("xs", "ys", "expected"), [
    ([300, 3000, 30000], [1.0, 1.0, 1.0], 0.0),
    ([300, 3000, 30000], [1.0, 10.0, 100.0], 1.0),
    ([1000], [5.0], None),
])
def test_log_log_slope(xs: list[float], ys: list[float], expected: float | None) -> None:
    assert slope(xs, ys) == expected


# --- a cold build at scale: bounded memory, cheap place tagging, the same index --------------------------


def test_place_tagger_gives_jiebas_own_words_and_tags() -> None:
    """The numpy unknown-word search tags exactly as jieba's (so most_named_place finds the same places)."""
    from assistant.core.text import pos_tokenizer, to_simplified
    from assistant.corpus.postag import place_tagger
    from eval.scale_corpus import document
    from tests.conftest import CORPUS_DIR

    texts = [p.read_text(encoding="utf-8")[:3000] for p in sorted(CORPUS_DIR.glob("*.txt"))]
    texts += [document(i)[1][:3000] for i in (0, 1, 5000)]
    for text in map(to_simplified, texts):
        assert [(w.word, w.flag) for w in place_tagger().cut(text)] == [(w.word, w.flag) for w in pos_tokenizer().cut(text)]


def test_merged_counts_equal_postings_concat() -> None:
    import numpy as np

    from assistant.core.text import tokenize
    from assistant.index.merging import merge
    from assistant.index.postings import Postings
    from tests.conftest import CORPUS_DIR

    lines = [line for p in sorted(CORPUS_DIR.glob("*.txt")) for line in p.read_text("utf-8").splitlines() if line.strip()]
    rng = np.random.default_rng(1)
    parts = []
    for a, b in ((0, 50), (50, 51), (51, 200), (200, len(lines))):
        p = Postings.from_tokens([tokenize(t) or [""] for t in lines[a:b]])
        parts.append((p, np.flatnonzero(rng.random(p.rows) < 0.7) if a else np.arange(p.rows)))  # dead rows too
    ours, theirs = merge(parts), Postings.concat(parts)
    assert ours.vocab == theirs.vocab
    for name in ("indptr", "indices", "counts", "lengths"):
        assert np.array_equal(getattr(ours, name), getattr(theirs, name)) and getattr(ours, name).dtype == getattr(
            theirs, name).dtype, name


def test_a_full_build_holds_one_batch_of_documents_and_writes_the_same_index(
    small_settings, small_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import weakref

    from assistant.index import build
    from assistant.index.layout import Layout
    from assistant.settings import IndexingSettings
    from tests.test_indexing import _gamma

    for n in range(6):
        _gamma(small_corpus, n)
    whole = build.update_index(small_settings, progress=False)  # one batch: the whole corpus
    refs: list[weakref.ref] = []
    most: list[int] = []
    chunk_file = build.chunk_file

    def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        fresh = chunk_file(*args, **kwargs)
        refs.append(weakref.ref(fresh))
        most.append(sum(r() is not None for r in refs))  # documents chunked and not yet dropped
        return fresh

    monkeypatch.setattr(build, "chunk_file", counted)
    small = small_settings.model_copy(update={"index_dir": tmp_path / "batched",
                                              "indexing": IndexingSettings(build_batch_passages=2)})
    batched = build.update_index(small, progress=False)
    assert len(most) == 8 and max(most) <= 3  # chunked a batch at a time, each batch dropped once written
    assert batched.chunks == whole.chunks and batched.segment == whole.segment == "sealed"
    a, b = Layout(small_settings.index_dir).build_dir(whole.build_id), Layout(small.index_dir).build_dir(batched.build_id)
    names = ["chunks.jsonl", "documents.jsonl", "vectors.npy", *(p.relative_to(a).as_posix() for p in (a / "bm25").rglob("*.*"))]
    for name in names:  # every term count (words, and character n-grams where built) too
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert not (b / "bm25.parts").exists() and not list(b.glob("*.part"))


def test_a_document_without_passages_among_others_is_indexed(small_settings, small_corpus: Path) -> None:
    """Regression: its empty vector block failed the whole build (ValueError: cannot reshape array of size 0)."""
    from assistant.index.build import update_index
    from assistant.index.catalog import open_catalog

    (small_corpus / "title_only.txt").write_text("甲市通知\n", encoding="utf-8")
    report = update_index(small_settings, progress=False)
    assert report.chunks > 0 and any("title_only.txt" in w for w in report.warnings)
    assert {d.file for d in open_catalog(small_settings).documents} >= {"title_only.txt", "alpha_city_measures.txt"}
