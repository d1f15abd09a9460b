"""Corpus loading: encodings, bad files, duplicates, manifest and manifest-less metadata."""

from __future__ import annotations

import logging
from pathlib import Path

from assistant.corpus.loading import (
    SUPPORTED_SUFFIXES,
    corpus_listing,
    detect_date,
    detect_doc_number,
    detect_title,
    load_corpus,
)
from assistant.corpus.manifest import read_manifest
from assistant.settings import PROJECT_ROOT

CORPUS = PROJECT_ROOT / "corpus"
GOOD = "温州市促进民营经济发展若干措施\n\n一、支持民营企业扩大投资。对新增规上企业给予奖励。\n"


def test_default_corpus_loads_with_manifest_metadata():
    docs, skipped = load_corpus(CORPUS)
    assert skipped == []
    by_id = {d.doc_id: d for d in docs}
    assert len(by_id) == 5
    yq = by_id["yueqing_private_economy_measures"]
    assert yq.doc_number == "乐政办发〔2023〕43号" and yq.date == "2023-11-23"
    assert yq.jurisdiction == "浙江省/温州市/乐清市"
    assert by_id["ndrc_private_enterprise_typical_practices"].jurisdiction == "全国"
    assert by_id["shuozhou_private_economy_opinions"].doc_number == ""
    assert all(d.title and len(d.content_hash) == 64 for d in docs)
    manifest = read_manifest(CORPUS)
    assert all(entry["source_seed"] for entry in manifest.values())


def test_gbk_and_big5_files_decode(tmp_path: Path):
    (tmp_path / "gbk.txt").write_bytes(GOOD.encode("gbk"))
    (tmp_path / "big5.txt").write_bytes("溫州市促進民營經濟發展若干措施\n一、支持民營企業擴大投資。\n".encode("big5"))
    (tmp_path / "bom.txt").write_bytes("\ufeff聊城市人民政府办公室\n关于促进民营经济高质量发展的意见\n".encode())
    docs, skipped = load_corpus(tmp_path)
    by_id = {d.doc_id: d for d in docs}
    assert skipped == []
    assert by_id["gbk"].raw_text == GOOD and by_id["gbk"].encoding == "gb18030"
    assert by_id["big5"].raw_text.startswith("溫州市促進民營經濟") and by_id["big5"].encoding == "big5"
    assert by_id["bom"].raw_text.startswith("聊城市") and by_id["bom"].title == "关于促进民营经济高质量发展的意见"


def test_bad_files_are_skipped_with_reasons_and_the_rest_loads(tmp_path: Path, caplog):
    (tmp_path / "a_good.txt").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b_copy.txt").write_text(GOOD, encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x00\x00\x00IHDR" * 10)
    (tmp_path / "empty.md").write_text("  \n\n\t", encoding="utf-8")
    (tmp_path / "notes.csv").write_text("ignored", encoding="utf-8")
    (tmp_path / ".hidden.txt").write_text(GOOD + "x", encoding="utf-8")
    (tmp_path / "README.md").write_text("# corpus notes", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="assistant.corpus.loading"):
        docs, skipped = load_corpus(tmp_path)
    assert [d.file for d in docs] == ["a_good.txt"]
    reasons = {s.file: s.reason for s in skipped}
    assert set(reasons) == {"b_copy.txt", "binary.txt", "empty.md"}
    assert "a_good.txt" in reasons["b_copy.txt"] and "duplicate" in reasons["b_copy.txt"]
    assert "binary" in reasons["binary.txt"] and "empty" in reasons["empty.md"]
    assert len([r for r in caplog.records if "skipped" in r.getMessage()]) == 3


def test_unreadable_and_oversized_files_skipped(tmp_path: Path, monkeypatch):
    import assistant.corpus.loading as loading

    (tmp_path / "big.txt").write_text(GOOD * 50, encoding="utf-8")
    (tmp_path / "ok.txt").write_text(GOOD, encoding="utf-8")
    monkeypatch.setattr(loading, "MAX_TEXT_BYTES", 1000)
    docs, skipped = load_corpus(tmp_path)
    assert [d.file for d in docs] == ["ok.txt"]
    assert "too large" in skipped[0].reason

    def vanish(self):
        raise FileNotFoundError(self)

    monkeypatch.setattr(loading.Path, "read_bytes", vanish)
    docs, skipped = load_corpus(tmp_path)
    assert docs == [] and all("disappeared" in s.reason or "too large" in s.reason for s in skipped)


def test_manifest_less_metadata_detection(tmp_path: Path):
    raw = (CORPUS / "yueqing_private_economy_measures.txt").read_text(encoding="utf-8")
    (tmp_path / "yq.txt").write_text(raw, encoding="utf-8")
    (tmp_path / "lc.txt").write_text((CORPUS / "liaocheng_private_economy_opinions.txt").read_text("utf-8"), "utf-8")
    docs, _ = load_corpus(tmp_path)
    by_id = {d.doc_id: d for d in docs}
    yq = by_id["yq"]
    assert yq.title == "乐清市人民政府办公室关于印发《乐清市促进民营经济高质量发展若干举措》的通知"
    assert yq.doc_number == "乐政办发〔2023〕43号"
    assert yq.date == "2023-11-23"
    assert yq.issuer == "乐清市人民政府办公室" and yq.jurisdiction == "乐清市"
    lc = by_id["lc"]
    assert lc.issuer == "聊城市人民政府办公室" and lc.jurisdiction == "聊城市"
    assert lc.doc_number == "" and lc.date == ""


def test_detectors_ignore_cited_numbers_and_crumbs():
    wenzhou = (CORPUS / "wenzhou_sme_friendly_city_opinions.txt").read_text(encoding="utf-8")
    assert detect_doc_number(wenzhou) == ""  # 溫政發〔2023〕6號 is cited inside a sentence
    assert detect_date(wenzhou) == "2023-10-12"  # signature "2023年10月12"
    assert detect_title("您现在的位置:首页\n各县（市、区）人民政府:\n# 标题\n正文第一行内容") == "标题"
    assert detect_title("您现在的位置:首页\n各县（市、区）人民政府:\n通知\n正文第一行内容。") == "正文第一行内容。"
    assert detect_doc_number("聊政办字〔2023〕12号\n正文") == "聊政办字〔2023〕12号"
    assert detect_date("成文日期:\n  • 2023-11-23") == "2023-11-23"


def _minimal_pdf(text: str) -> bytes:
    """A one-page PDF with one line of Latin text (enough to prove extraction runs end to end)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_html_docx_md_and_pdf_files_load(tmp_path: Path):
    import docx

    (tmp_path / "a.html").write_text(
        "<html><body><h1>甲市惠企政策</h1><p><b>一、</b>对首次升规企业奖励20万元。</p>"
        "<script>alert(1)</script></body></html>",
        encoding="utf-8",
    )
    document = docx.Document()
    document.add_heading("乙县稳岗措施", level=1)
    document.add_paragraph("对不裁员的企业返还失业保险费的50%。")
    document.save(tmp_path / "b.docx")
    (tmp_path / "c.md").write_text("# 丙市人才新政\n\n对引进博士给予安家补贴50万元。\n", encoding="utf-8")
    (tmp_path / "d.pdf").write_bytes(_minimal_pdf("Policy 2023 subsidy 300"))
    docs, skipped = load_corpus(tmp_path)
    by_file = {d.file: d for d in docs}
    assert skipped == []
    assert "20万元" in by_file["a.html"].raw_text and "alert" not in by_file["a.html"].raw_text
    assert by_file["a.html"].title == "甲市惠企政策"
    assert "50%" in by_file["b.docx"].raw_text and by_file["b.docx"].title == "乙县稳岗措施"
    assert by_file["c.md"].title == "丙市人才新政"
    assert "subsidy 300" in by_file["d.pdf"].raw_text


def test_symlinks_out_of_the_corpus_are_skipped(tmp_path: Path, caplog):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("机密：不应被索引的内容。\n", encoding="utf-8")
    (outside / "docs").mkdir()
    (outside / "docs" / "more.txt").write_text("目录外的另一份文件。\n", encoding="utf-8")
    (corpus / "a_good.txt").write_text(GOOD, encoding="utf-8")
    (corpus / "sub").mkdir()
    (corpus / "sub" / "real.txt").write_text("乙县稳岗措施\n对不裁员的企业返还失业保险费的50%。\n", encoding="utf-8")
    (corpus / "inside_link.txt").symlink_to(corpus / "sub" / "real.txt")  # inside the folder: fine
    (corpus / "passwd_link.txt").symlink_to("/etc/passwd")
    (corpus / "secret_link.txt").symlink_to(outside / "secret.txt")
    (corpus / "relative_link.txt").symlink_to(Path("..") / "outside" / "secret.txt")
    (corpus / "linked_dir").symlink_to(outside / "docs", target_is_directory=True)
    (corpus / "dangling.txt").symlink_to(corpus / "gone.txt")
    (corpus / "loop_a.txt").symlink_to(corpus / "loop_b.txt")
    (corpus / "loop_b.txt").symlink_to(corpus / "loop_a.txt")
    with caplog.at_level(logging.WARNING, logger="assistant.corpus.loading"):
        docs, skipped = load_corpus(corpus)
    texts = " ".join(d.raw_text for d in docs)
    assert "root:" not in texts and "机密" not in texts and "目录外" not in texts
    assert {d.file for d in docs} == {"a_good.txt", "inside_link.txt"}  # a link inside the folder is read
    reasons = {s.file: s.reason for s in skipped}
    for name in ("passwd_link.txt", "secret_link.txt", "relative_link.txt"):
        assert "语料目录之外" in reasons[name], reasons
    assert "duplicate of inside_link.txt" in reasons["sub/real.txt"]
    assert reasons["dangling.txt"].startswith("链接目标不存在") and "gone.txt" in reasons["dangling.txt"]
    assert "disappeared" not in reasons["dangling.txt"]
    assert "循环" in reasons["loop_a.txt"] and "循环" in reasons["loop_b.txt"]
    assert any("passwd_link.txt" in r.getMessage() for r in caplog.records)


def test_dangling_link_reported_by_load_document(tmp_path: Path):
    import pytest

    from assistant.corpus.loading import LoadError, load_document

    (tmp_path / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    with pytest.raises(LoadError, match="^链接目标不存在"):
        load_document(tmp_path / "dangling.txt")


def test_size_limit_message_states_mib(tmp_path: Path, monkeypatch):
    import assistant.corpus.loading as loading

    (tmp_path / "big.txt").write_bytes(GOOD.encode() * 2000)
    monkeypatch.setattr(loading, "MAX_TEXT_BYTES", 64 * 1024)
    _, skipped = load_corpus(tmp_path)
    assert skipped[0].reason == "file too large (0.2 MiB > 0.0625 MiB limit)"
    monkeypatch.undo()  # the real 20 MiB limit, and a sparse 21 MiB file (no disk used)
    with open(tmp_path / "big.txt", "r+b") as fh:
        fh.truncate(21 * 2**20)
    _, skipped = load_corpus(tmp_path)
    assert skipped[0].reason == "file too large (21.0 MiB > 20 MiB limit)"


def _rglob_listing(corpus: Path) -> list[str]:
    """What the listing did before it used os.scandir: sorted(rglob), hidden parts, manifest, READMEs and folders out."""
    out = []
    for path in sorted(corpus.rglob("*")):
        rel = path.relative_to(corpus)
        if any(p.startswith(".") for p in rel.parts) or path.name == "manifest.toml":
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES or path.name.upper().startswith("README") or path.is_dir():
            continue
        out.append(rel.as_posix())
    return out


def test_listing_keeps_rglob_order_and_rules(tmp_path: Path):
    """Document ids and duplicate choices follow the listing order, so the faster listing must not change it."""
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    (outside / "docs").mkdir(parents=True)
    (outside / "docs" / "x.txt").write_text("外部\n", encoding="utf-8")
    for rel in ("a.txt", "a/b.txt", "a/c/d.md", "a-b.txt", "a b.TXT", "B.txt", "z.htm", "notes.csv", "README.txt",
                "readme.md", ".hidden.txt", ".git/x.txt", "sub.txt/inner.txt", "manifest.toml", "深圳/政策.docx",
                "一/二.pdf"):
        path = corpus / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n", encoding="utf-8")
    (corpus / "linked_dir").symlink_to(outside / "docs", target_is_directory=True)
    (corpus / "dir_link.txt").symlink_to(outside / "docs", target_is_directory=True)
    (corpus / "loop_a.txt").symlink_to(corpus / "loop_b.txt")
    (corpus / "loop_b.txt").symlink_to(corpus / "loop_a.txt")
    (corpus / "file_link.md").symlink_to(corpus / "a.txt")
    listed = corpus_listing(corpus)
    assert [f.rel for f in listed] == _rglob_listing(corpus)
    assert {f.rel for f in listed if f.is_link} == {"file_link.md", "loop_a.txt", "loop_b.txt"}
    for f in listed:
        assert (Path(f.path), f.stem, f.suffix) == (corpus / f.rel, Path(f.name).stem, Path(f.name).suffix.lower())
