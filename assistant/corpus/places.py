"""A document's jurisdiction from the place names it leads with or mentions most.

Many corpus files never state their issuer in a parseable way, so the place is read first from the
leading names of the issuer or title (``XX省XX市…``) and, failing that, from jieba's place tags.
"""

from __future__ import annotations

import re

from assistant.core.text import to_simplified

_PLACE = re.compile(
    r"^(?P<prov>[\u4e00-\u9fff]{2,4}?(?:省|自治区|自治區))?"
    r"(?P<city>[\u4e00-\u9fff]{2,4}?[市州盟])?(?P<county>[\u4e00-\u9fff]{1,4}?[县區区縣旗])?"
)
_GENERIC_NS = frozenset(
    "全国 中国 国家 全省 全市 本市 我市 我省 城市 地区 各地 省内 市内 县域 城乡 农村 乡镇 园区 上市 超市 股市 楼市 集市 门市 "
    "治安 城镇 入园 土地利用 国内 境内 海外".split()
)


def most_named_place(text: str, min_count: int = 3) -> str:
    """The place a document names most often (jieba 'ns'), for documents that never state their issuer."""
    from assistant.core.text import pos_tokenizer

    counts: dict[str, int] = {}
    for w in pos_tokenizer().cut(to_simplified(text[:20000])):
        word = w.word.strip()
        if w.flag == "ns" and len(word) >= 2 and word not in _GENERIC_NS:
            key = re.sub(r"(?<=..)[省市县区]$", "", word)  # 朔州市 and 朔州 are one place
            counts[key] = counts.get(key, 0) + 1
    if not counts:
        return ""
    place, n = max(counts.items(), key=lambda kv: kv[1])
    # a document about many places (a national list of city practices) has no single jurisdiction
    return place if n >= min_count and n >= 0.4 * sum(counts.values()) else ""


def guess_jurisdiction(*names: str) -> str:
    """"XX省/XX市/XX县" from the leading place names of the issuer or title; "" when none."""
    for name in names:
        name = re.sub(r"^(?:关于|關於)", "", name or "")
        m = _PLACE.match(name)
        parts = [g for g in (m.group("prov"), m.group("city"), m.group("county")) if g] if m else []
        parts = [p for p in parts if not re.search("政府|关于|關於|办公|辦公|促进|促進", p)]
        if parts:
            return "/".join(parts)
    return ""
