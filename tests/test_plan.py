"""Retrieval's per-build tables: what they find (documents named, place scopes, filters), that they equal a
scan over every document, and that a build's tables are freed with its catalog."""

from __future__ import annotations

import gc
import re
import weakref

import numpy as np
import pytest
from llama_index.core.schema import TextNode

from assistant.core.text import DOC_NUMBER_PARTS, doc_number_key, search_form
from assistant.index.catalog import DocumentInfo
from assistant.retrieval import builds
from assistant.retrieval.documents import DocumentNames
from assistant.retrieval.filters import Filters, UnknownFilterError, resolve_filters
from assistant.retrieval.scopes import place_scopes
from assistant.settings import Settings

# (doc_id, jurisdiction, title, 文号, passages as their cities)
DOCS = [
    ("nat", "全国", "支持民营企业改革发展的典型做法", "", ["", "温州市", "青岛市"]),
    ("zj", "浙江省", "浙江省促进民营经济发展的若干措施", "浙政发〔2022〕10号", [""]),
    ("wz", "浙江省/温州市", "温州市人民政府关于创建中小微企业友好城市的实施意见", "", ["", ""]),
    ("yq", "浙江省/温州市/乐清市", "乐清市促进民营经济高质量发展若干举措", "乐政办发〔2023〕43号", [""]),
    ("sz", "山西省/朔州市", "朔州市关于促进民营经济发展的若干意见", "朔政发〔2023〕43号", [""]),
    ("unk", "未知", "关于做好稳外贸工作的通知", "", [""]),
]


class FakeCatalog:
    """The parts of a ``Catalog`` retrieval's per-build tables read (weak-referenceable, like the real one)."""

    def __init__(self, docs: list[tuple[str, str, str, str, list[str]]] = DOCS) -> None:
        self.settings = Settings()
        self.documents = [DocumentInfo(d, f"{d}.txt", t, "", j, n, "", len(c)) for d, j, t, n, c in docs]
        self.lifecycles: dict[str, object] = {}
        self.nodes = {
            f"{d}-{k}": TextNode(id_=f"{d}-{k}", text="x", metadata={"doc_id": d, "city": city})
            for d, _, _, _, cities in docs
            for k, city in enumerate(cities)
        }
        self.node_ids = list(self.nodes)
        self.doc_index = np.array([n.metadata["doc_id"] for n in self.nodes.values()])


def test_a_builds_tables_are_freed_with_its_catalog() -> None:
    """Regression: the gazetteer and place tables sat in module-level dicts keyed by build id that only grew."""
    old, new = FakeCatalog(), FakeCatalog()
    old.build_id = new.build_id = "b1"  # type: ignore[attr-defined]  # what the old dicts were keyed by
    kept = [weakref.ref(f(old)) for f in (builds.gazetteer_for, builds.document_names, builds.place_index)]
    assert builds.gazetteer_for(old) is builds.gazetteer_for(old)  # computed once per catalog
    assert builds.gazetteer_for(new) is not builds.gazetteer_for(old)
    del old
    gc.collect()
    assert [ref() for ref in kept] == [None, None, None]
    assert new in builds.gazetteer_for.values  # type: ignore[attr-defined]


# -- documents named: the tables answer as a scan over every document did -----------------------------------

_KIND = re.compile("实施意见|若干意见|若干举措|若干措施|典型做法|意见|举措|措施|做法|办法|方案|通知|文件")


def _scan(text: str, documents: list[tuple[str, str, str]], places: list[str]) -> list[str]:
    """The lookup as it was, over every document for every question (the reference for the tables)."""
    text = search_form(text)
    asked = [k for m in DOC_NUMBER_PARTS.finditer(text) if (k := doc_number_key(m.group(0)))]
    named = []
    for doc_id, _, number in documents:
        key = doc_number_key(number) if number else None
        if key and any(a[1:] == key[1:] and (not a[0] or key[0].endswith(a[0])) for a in asked):
            named.append(doc_id)
    if not named and not asked:
        serials = set(re.findall(r"(?<!\d)(\d{1,4})号(?:文|文件)", text))
        hits = [d for d, _, n in documents if n and (k := doc_number_key(n)) and k[2] in serials]
        named = hits if len(hits) == 1 else []
    quoted = re.findall(r"(?:^|(?<=》))[^》《]*+《([^》]{4,})》", text)
    for doc_id, title, _ in documents:
        t = search_form(title)
        if doc_id not in named and t and (t in text or any(q in t or t in q for q in quoted)):
            named.append(doc_id)
    if named:
        return named
    cores = {}
    for doc_id, title, _ in documents:
        core = search_form(title)
        for place in sorted(places, key=len, reverse=True):
            core = core.replace(place, "")
        cores[doc_id] = core
    for doc_id, core in cores.items():
        run = max((text[i:j] for i in range(len(text)) for j in range(i + 1, len(text) + 1) if text[i:j] in core),
                  key=len, default="")  # fmt: skip
        if len(run) < 4 or any(run in c for d, c in cores.items() if d != doc_id):
            continue
        end = text.find(run) + len(run)
        if _KIND.search(run) or _KIND.match(text, end) or _KIND.search(text[end : end + 6]):
            named.append(doc_id)
    return named


TITLES = [(d, t, n) for d, _, t, n, _ in DOCS] + [
    ("short", "方案", ""),  # shorter than a lookup key
    ("dup", "朔州市关于促进民营经济发展的若干意见", ""),  # the same title twice
    ("num", "某县关于印发《工作方案》的通知", "某政发〔2023〕7号"),
]
PLACES = ["乐清市", "乐清", "温州市", "温州", "朔州市", "朔州", "浙江省", "浙江", "某县"]


@pytest.mark.parametrize(
    "question",
    [
        "乐政办发〔2023〕43号对政府采购有什么要求",
        "〔2023〕43号讲了什么",  # two documents share the year and serial
        "43号文对融资有什么规定",  # a serial two documents share: names none
        "7号文件怎么说",
        "《若干举措》里关于用地的规定",
        "《工作方案》",
        "方案是什么",
        "《温州市人民政府关于创建中小微企业友好城市的实施意见》第三条",
        "友好城市实施意见对小升规奖励多少",
        "朔州若干意见对用电有什么规定",
        "典型做法里的青易办是什么",
        "中小微企业能得到什么补贴",
        "民营经济有哪些支持",
        "稳外贸工作的通知说了什么",
        "浙江省促进民营经济发展的若干措施和乐清市促进民营经济高质量发展若干举措",
        "",
    ],
)
def test_named_documents_equal_a_scan_over_every_document(question: str) -> None:
    names = DocumentNames(TITLES, PLACES, min_chars=4)
    assert names.named(question) == _scan(question, TITLES, PLACES)


def test_place_names_are_removed_longest_first_even_when_a_removal_joins_another() -> None:
    """Only names whose first character the title has are tried; the order of removal is kept."""
    docs = [("a", "温乐清州甲乙丙丁实施意见", ""), ("b", "其他文件", "")]
    places = ["乐清", "温州", "温"]
    names = DocumentNames(docs, places, min_chars=4)
    for question in ("甲乙丙丁实施意见", "州甲乙丙丁实施意见", "温州甲乙丙丁"):
        assert names.named(question) == _scan(question, docs, places)


# -- where a question is answered from ------------------------------------------------------------------------


def _docs_in(catalog: FakeCatalog, mask: np.ndarray) -> list[str]:
    return [node_id for node_id, keep in zip(catalog.node_ids, mask, strict=True) if keep]


@pytest.mark.parametrize(
    ("places", "kinds", "searched", "exact"),
    [
        # no place: everything
        ([], set(), [n for d, _, _, _, c in DOCS for n in (f"{d}-{k}" for k in range(len(c)))], []),
        # 乐清: its own, the 温州 and 浙江 documents above it, national ones except another city's practice
        # (青岛's; 温州's is the city above it)
        (["乐清市"], set(), ["nat-0", "nat-1", "zj-0", "wz-0", "wz-1", "yq-0", "unk-0"], ["yq-0"]),
        # 温州: 乐清 (under it) and the national practice of 温州 are its own; exact = its own path and city
        (
            ["温州市"],
            set(),
            ["nat-0", "nat-1", "zj-0", "wz-0", "wz-1", "yq-0", "unk-0"],
            ["nat-1", "wz-0", "wz-1"],
        ),
        # asking which city: any city's practice may answer
        (
            ["温州市"],
            {"which_city"},
            ["nat-0", "nat-1", "nat-2", "zj-0", "wz-0", "wz-1", "yq-0", "unk-0"],
            ["nat-1", "wz-0", "wz-1"],
        ),
        # 浙江: its path holds 温州 and 乐清, so their documents are its own
        (["浙江省"], set(), ["nat-0", "zj-0", "wz-0", "wz-1", "yq-0", "unk-0"], ["zj-0"]),
    ],
)
def test_place_scope(places: list[str], kinds: set[str], searched: list[str], exact: list[str]) -> None:
    catalog = FakeCatalog()
    base = np.ones(len(catalog.node_ids), dtype=bool)
    index, gazetteer = builds.place_index(catalog), builds.gazetteer_for(catalog)
    scopes, lapsed = place_scopes(index, gazetteer, places, kinds, base)
    assert lapsed == [] and len(scopes) == 1
    mask, exact_mask = scopes[0]
    assert _docs_in(catalog, mask) == searched
    assert _docs_in(catalog, exact_mask) == exact


def test_places_compared_get_a_scope_each_of_their_own_documents() -> None:
    catalog = FakeCatalog()
    base = np.ones(len(catalog.node_ids), dtype=bool)
    scopes, _ = place_scopes(
        builds.place_index(catalog), builds.gazetteer_for(catalog), ["温州市", "朔州市"], set(), base
    )
    assert [_docs_in(catalog, mask) for mask, _ in scopes] == [["nat-1", "wz-0", "wz-1", "yq-0"], ["sz-0"]]


def test_a_place_whose_documents_all_lapsed_names_them_instead_of_another_places() -> None:
    catalog = FakeCatalog()
    index = builds.place_index(catalog)
    in_force = index.passages_of({"zj", "wz"})  # 朔州's document and the national ones lapsed on the date
    before = index.passages_of(None)
    scopes, lapsed = place_scopes(index, builds.gazetteer_for(catalog), ["朔州市"], set(), in_force, before)
    assert (scopes, lapsed) == ([], ["nat", "sz", "unk"])


# -- the user's filters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "allowed"),
    [
        (Filters(), None),
        (Filters(jurisdictions=["温州"]), {"wz", "yq"}),
        (Filters(jurisdictions=["乐清市", "朔州"]), {"yq", "sz"}),
        (Filters(jurisdictions=["全国"]), {"nat"}),
        (Filters(documents=["yq", "sz.txt", "支持民营企业改革发展的典型做法"]), {"yq", "sz", "nat"}),
        (Filters(jurisdictions=["浙江"], documents=["sz", "wz"]), {"wz"}),
    ],
)
def test_filters(filters: Filters, allowed: set[str] | None) -> None:
    assert resolve_filters(filters, FakeCatalog()) == allowed


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (Filters(jurisdictions=["杭州"]), "未知的地区筛选“杭州”"),
        (Filters(documents=["nope"]), "未知的文件筛选“nope”"),
    ],
)
def test_an_unknown_filter_names_the_choices(filters: Filters, message: str) -> None:
    with pytest.raises(UnknownFilterError, match=message):
        resolve_filters(filters, FakeCatalog())
