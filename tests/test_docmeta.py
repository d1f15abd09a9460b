"""A build's document records written as a base build's plus what changed read back as all of them, in order."""

from __future__ import annotations

import pytest

from assistant.index import docmeta


def _rec(file: str, segment: str = "s0") -> dict:
    return {"file": file, "fingerprint": file, "content_hash": file, "chunks": 1, "segment": segment}


BASE = {"a": _rec("a.txt"), "c": _rec("sub/c.txt"), "e": _rec("z.txt")}


def _update(documents: dict, current: dict, share: float = 1.0) -> dict:
    """Write the new build's fields as the builder does, then read them back as a reader does."""
    meta = {"build_id": "b2", **docmeta.encode(documents, current, rewrite=False, share=share)}
    return docmeta.resolve(meta, lambda build_id: {"b0": {"documents": BASE}}[build_id])


@pytest.mark.parametrize(("change", "expected_order"), [
    ({"add": {"b": _rec("b.txt", "s1")}}, ["a", "b", "c", "e"]),  # a new file between two others
    ({"add": {"0": _rec("0.txt", "s1")}}, ["0", "a", "c", "e"]),  # before every other
    ({"drop": ["c"]}, ["a", "e"]),
    ({"add": {"c": _rec("sub/c.txt", "s1")}}, ["a", "c", "e"]),  # edited in place
    ({"add": {"c": _rec("y/c.txt", "s1")}}, ["a", "c", "e"]),  # moved, still between a and z
    ({"add": {"a": _rec("zz/a.txt", "s1")}}, ["c", "e", "a"]),  # moved to the end of the listing
])
def test_changes_against_a_base_read_back_whole_and_in_listing_order(change: dict, expected_order: list[str]) -> None:
    current = {"build_id": "b0", "documents": BASE}  # an inline build: the base
    documents = {d: r for d, r in BASE.items() if d not in change.get("drop", [])}
    documents.update(change.get("add", {}))
    documents = dict(sorted(documents.items(), key=lambda kv: tuple(kv[1]["file"].split("/"))))  # corpus order
    meta = _update(documents, current)
    assert meta["documents_base"] == "b0" and list(meta["documents"]) == expected_order
    assert meta["documents"] == documents
    assert all(meta["documents"][d] is BASE[d] for d in documents if documents[d] is BASE.get(d))  # the base's own
    again = _update(dict(meta["documents"]), meta)  # a second update against the same base
    assert again["documents_base"] == "b0" and again["documents"] == documents


def test_a_change_past_the_share_or_a_rewrite_writes_every_record() -> None:
    current = {"build_id": "b0", "documents": BASE}
    documents = {**BASE, "c": _rec("sub/c.txt", "s1")}
    assert "documents" in docmeta.encode(documents, current, rewrite=False, share=0.2)  # 1 of 3 > 0.2
    assert "documents_base" in docmeta.encode(documents, current, rewrite=False, share=0.5)
    assert docmeta.encode(documents, current, rewrite=True, share=1.0) == {"documents": documents}
    assert docmeta.encode(documents, None, rewrite=False, share=1.0) == {"documents": documents}
