"""Raw document text -> display text the chunker can trust.

Web-scraped policy documents arrive with HTML, markdown/table debris, pinyin annotations, GBK
mojibake and tables flattened to one cell per line. Each defect gets a general rule here so unseen
documents with the same defects come out clean; what cannot be repaired is dropped with a warning.
Tables are rebuilt into one ``字段：值；…`` record per row so a row stays together in one chunk.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

logger = logging.getLogger(__name__)

_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_PUA = re.compile("[\ue000-\uf8ff]")
_TONED = "\u00e0-\u01dc\u00fc"
_PINYIN_SYLLABLE = re.compile(
    rf"^(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?[aeiouv{_TONED}]+(?:ng|n|r)?$"
)
_PINYIN_NOTE = re.compile(rf"(?<=[\u3400-\u9fff])\(([a-z{_TONED}]{{1,7}})\)")
# A pinyin fragment whose "(" was eaten by mojibake: needs a tone mark to be told from real text.
_ORPHAN_PINYIN = re.compile(rf"(?<=[\u3400-\u9fff?])([a-z{_TONED}]{{0,6}}[{_TONED}][a-z{_TONED}]{{0,6}})\)")
_HTML_TAG = re.compile(r"</?(?:p|br|b|strong|i|em|u|span|div|font|a|li|ul|ol|table|tr|td|th|h[1-6]|img)\b[^>]*>", re.I)
_RULE_LINE = re.compile(r"^[\s|:\-\t]*-{3,}[\s|:\-\t]*$")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_CHROME_START = re.compile(r"^(?:您现在的位置|您現在的位置|当前位置|當前位置|所在位置)\s*[:：]?")
_BREADCRUMB = re.compile(r"^>\s*\S")
_ATTACHMENT_FILE = re.compile(r"^.{1,160}\.(?:docx?|pdf|xlsx?|wps|ofd|zip|rar)$", re.I)
_BULLET = re.compile(r"^[•·●▪◆]\s*")


# --- GBK byte-shift mojibake -------------------------------------------------------------------
# GBK text read one byte out of step: a lost lead byte shows as "?", then every pair is misread
# ("?。ㄒ唬┲黧w" = "（一）主體") until an ASCII trail byte resynchronises the stream. Re-encoding the
# span and decoding it one byte later recovers the text. Legacy (CP936 / GB18030-2000) decoders
# mapped these 2-byte codes to private-use U+E766.. in order; Python's GB18030-2005 codec does not,
# so the reverse map is rebuilt from the range list.
_LEGACY_PUA_RANGES = (
    (0xA2AB, 0xA2B0), (0xA2E3, 0xA2E4), (0xA2EF, 0xA2F0), (0xA2FD, 0xA2FE), (0xA4F4, 0xA4FE),
    (0xA5F7, 0xA5FE), (0xA6B9, 0xA6C0), (0xA6D9, 0xA6DF), (0xA6EC, 0xA6ED), (0xA6F3, 0xA6F3),
    (0xA6F6, 0xA6FE), (0xA7C2, 0xA7D0), (0xA7F2, 0xA7FE), (0xA896, 0xA8A0), (0xA8BC, 0xA8BC),
    (0xA8BF, 0xA8BF), (0xA8C1, 0xA8C4), (0xA8EA, 0xA8FE), (0xA958, 0xA958), (0xA95B, 0xA95B),
    (0xA95D, 0xA95F), (0xA989, 0xA995), (0xA997, 0xA9A3), (0xA9F0, 0xA9FE), (0xD7FA, 0xD7FE),
    (0xFE50, 0xFEA0),
)


def _legacy_pua_map() -> dict[str, bytes]:
    table: dict[str, bytes] = {}
    code = 0xE766
    for lo, hi in _LEGACY_PUA_RANGES:
        for value in range(lo, hi + 1):
            if value & 0xFF == 0x7F:
                continue
            table[chr(code)] = value.to_bytes(2, "big")
            code += 1
    return table


_LEGACY_PUA = _legacy_pua_map()
_MOJI_MAX_SPAN = 48
_GOOD_DECODED = re.compile(r"^[\u3400-\u9fff\u3000-\u303f\uff01-\uff5e“”‘’…—]+$")
_PINYIN_CHARS = rf"[a-z{_TONED}]{{1,7}}"
_PINYIN_AFTER = re.compile(rf"({_PINYIN_CHARS})\)")
_LOST_CHAR = re.compile(rf"\?({_PINYIN_CHARS})\)")
_LOST_LEAD = re.compile(rf"(?<=[^\x00-\x7f])([\x40-\x7e])\(({_PINYIN_CHARS})\)")


def _gbk_pair(ch: str) -> bytes | None:
    """The two GBK bytes a misread character came from, or None."""
    if ch in _LEGACY_PUA:
        return _LEGACY_PUA[ch]
    for codec in ("gbk", "gb18030"):
        try:
            raw = ch.encode(codec)
        except UnicodeEncodeError:
            continue
        if len(raw) == 2:
            return raw
    return None


def _decode_gbk(raw: bytes) -> str | None:
    try:
        out = raw.decode("gb18030")
    except UnicodeDecodeError:
        return None
    return out if out and _GOOD_DECODED.match(out) else None


class _MojibakeRepair:
    """One document's repair pass; the document's own pinyin notes help recover split characters."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.warnings: list[str] = []
        self.by_pinyin: dict[str, set[str]] = {}
        for m in _PINYIN_NOTE.finditer(text):
            self.by_pinyin.setdefault(m.group(1), set()).add(text[m.start() - 1])
        self.han = {c for c in text if "\u4e00" <= c <= "\u9fff"}

    def _by_pinyin_and_byte(self, pinyin: str, index: int, byte: int) -> str | None:
        hits = {c for c in self.by_pinyin.get(pinyin, ()) if (_gbk_pair(c) or b"  ")[index] == byte}
        return hits.pop() if len(hits) == 1 else None

    def _lost_head(self, start: int, dropped: int) -> str:
        """The character whose lead byte became the "?": recover it when its trail byte and the
        previous character form a pair the document uses elsewhere."""
        prev = self.text[start - 1] if start else "\n"
        if dropped == 0xA1 and (not prev.strip() or prev == "\u3000"):
            return ""  # second half of a full-width indentation space
        hits = {c for c in self.han if (_gbk_pair(c) or b"  ")[1] == dropped and prev + c in self.text}
        if len(hits) == 1:
            return hits.pop()
        self.warnings.append(f"one character lost before a mojibake span near {self.text[start - 8:start]!r}")
        return ""

    def _span(self, start: int) -> tuple[str, int] | None:
        """Repair the span after the "?" at ``start``; returns (replacement, end index) or None."""
        text, buf = self.text, bytearray()
        for j in range(start + 1, min(len(text), start + 1 + _MOJI_MAX_SPAN)):
            ch = text[j]
            if ch == "\n":
                return None
            if ch == "?" and buf:
                m = _PINYIN_AFTER.match(text, j + 1)
                if m and len(buf) % 2 == 0:
                    body = _decode_gbk(bytes(buf[1:-1])) if len(buf) > 2 else ""
                    if body is not None:
                        lost = self._by_pinyin_and_byte(m.group(1), 0, buf[-1])
                        if lost is None:
                            self.warnings.append(f"one character lost in mojibake near {body!r}")
                        return self._lost_head(start, buf[0]) + body + (lost or ""), m.end()
            if ord(ch) < 0x80:
                if buf:
                    body = _decode_gbk(bytes(buf[1:]) + bytes([ord(ch)]))
                    if body is not None:
                        return self._lost_head(start, buf[0]) + body, j + 1
                if not 0x21 <= ord(ch) <= 0x7E:
                    return None
                buf += bytes([0xA3, ord(ch) + 0x80])  # a full-width form later narrowed to ASCII
                continue
            pair = _gbk_pair(ch)
            if pair is None:
                return None
            buf += pair
        return None

    def run(self) -> str:
        text, out, i = self.text, [], 0
        while i < len(text):
            if text[i] == "?":
                fixed = self._span(i)
                if fixed is not None:
                    out.append(fixed[0])
                    i = fixed[1]
                    continue
            out.append(text[i])
            i += 1
        repaired = "".join(out)
        for m in _LOST_CHAR.finditer(repaired):
            context = repaired[max(0, m.start() - 8) : m.start()]
            self.warnings.append(f"unrecoverable character dropped after {context!r} (mojibake '?{m.group(1)})')")
        repaired = _LOST_CHAR.sub("", repaired)

        def lead_lost(m: re.Match) -> str:
            ch = self._by_pinyin_and_byte(m.group(2), 1, ord(m.group(1)))
            if ch is None:
                self.warnings.append(f"one character lost (only its trail byte {m.group(1)!r} survived)")
                return ""
            return ch

        return _LOST_LEAD.sub(lead_lost, repaired)


def repair_mojibake(text: str) -> tuple[str, list[str]]:
    """Undo GBK byte-shift mojibake; returns the text and warnings for what stayed lost."""
    if "?" not in text and not _PUA.search(text):
        return text, []
    fixer = _MojibakeRepair(text)
    return fixer.run(), fixer.warnings


# --- tables ----------------------------------------------------------------------------------
# Both table shapes become one record per row, "表头：值；表头：值", so a row is never cut apart.
_HEADER_CELL = re.compile(r"^[^。；;，,!！?？\d][^。；;，,!！?？]{0,11}$")
_SHORT_CELL_CHARS = 40
_LABEL_SPACE = re.compile(r"^([\u4e00-\u9fff]{2,10}[：:])\s+")


def _is_header_row(cells: list[str]) -> bool:
    return len(cells) >= 3 and all(_HEADER_CELL.match(c) for c in cells)


def _tsv_record(header: list[str], cells: list[str], to_text) -> list[str]:
    """One tab-separated row -> a record: short cells on the first line, long cells below."""
    cells = (cells + [""] * len(header))[: len(header)]
    paras = [[_LABEL_SPACE.sub(r"\1", p.strip()) for p in to_text(c).split("\n") if p.strip()] for c in cells]
    filled = [i for i, p in enumerate(paras) if p]
    if len(filled) == 1 and filled[0] <= 1:  # a section row such as "\t一、…\t\t"
        return ["", " ".join(paras[filled[0]]), ""]
    out: list[str] = []
    short: list[str] = []
    for name, cell in zip(header, paras, strict=True):
        if not cell:
            continue
        joined = " ".join(cell)
        if len(cell) == 1 and len(joined) <= _SHORT_CELL_CHARS or len(joined) <= 12:
            short.append(f"{name}：{joined}")
            continue
        if short:
            out.append("；".join(short))
            short = []
        if len(cell) == 1:
            out.append(f"{name}：{cell[0]}")
        else:
            out.append(f"{name}：")
            out.extend(cell)
    if short:
        out.append("；".join(short))
    return [""] + out + [""]


def rebuild_tsv_tables(lines: list[str], to_text) -> list[str]:
    """Tab-separated tables (with HTML inside cells) -> records; rule rows such as ``---\t---`` go."""
    out: list[str] = []
    header: list[str] | None = None
    for line in lines:
        if "\t" in line:
            if _RULE_LINE.match(line):
                continue
            cells = [c.strip() for c in line.split("\t")]
            if header is None and _is_header_row(cells):
                header = cells
            elif header is None:
                out.append(line.replace("\t", " "))
            else:
                out.extend(_tsv_record(header, cells, to_text))
            continue
        if header is not None and line.strip() and not _RULE_LINE.match(line):
            header = None
        out.append(line)
    return out


_ROW_NO = re.compile(r"^\d{1,3}$")
_NUMBER_HEADERS = ("序号", "序號", "编号", "編號", "No.", "NO.")
_OUTLINE_1 = re.compile(r"^[一二三四五六七八九十]+、")
_OUTLINE_2 = re.compile(r"^[（(][一二三四五六七八九十]+[)）]")
_ITEM_NO = re.compile(r"^(\d{1,2})(?:[.．、]|(?=[^\d.．、%％]))")
_STAGE = re.compile(
    r"^(?:长期实施|長期實施|长期|常态化|持续推进|\d{4}\s*[-—–~至]\s*(?:\d{4}\s*年?)?"
    r"|\d{4}\s*年(?:\d{1,2}\s*月)?(?:底|前|起|内|以前)?)$"
)
_STAGE_TAIL = re.compile(r"^\d{4}\s*年?$")
_LEADER = re.compile(r"^[\u4e00-\u9fff·]{0,6}$")


def _item_groups(cells: list[str]) -> list[list[str]]:
    """Split a cell run into columns: an empty cell, a numbering restart or jump starts a new one."""
    groups: list[list[str]] = []
    prev: int | None = None
    for cell in cells:
        if not cell:
            if groups and groups[-1]:
                groups.append([])
            prev = None
            continue
        m = _ITEM_NO.match(cell)
        number = int(m.group(1)) if m else None
        new = not groups or (number is not None and (prev is None or number != prev + 1) and groups[-1])
        if number is None and prev is not None and groups and groups[-1]:
            groups[-1][-1] += cell  # an unnumbered line after an item continues it
            continue
        if new and groups and not groups[-1]:
            new = False
        if new:
            groups.append([])
        groups[-1].append(cell)
        prev = number
    return [g for g in groups if g]


class _FlatTable:
    """A table flattened to one cell per line: header cells, then rows starting with their number."""

    def __init__(self, header: list[str]) -> None:
        self.header = header
        self.rows: list[dict] = []

    def parse_row(self, number: int, cells: list[str]) -> None:
        n_cols = len(self.header)
        heads: dict[int, str] = {}
        i = 0
        while i < len(cells) and not cells[i]:
            i += 1
        while i < len(cells) and len(heads) < 2:
            if _OUTLINE_1.match(cells[i]):
                heads[1] = cells[i]
            elif _OUTLINE_2.match(cells[i]):
                heads[2] = cells[i]
            else:
                break
            i += 1
        tail: list[str] = []
        stage_at = next((j for j in range(i, len(cells)) if _STAGE.match(cells[j])), None)
        content = cells[i:] if stage_at is None else cells[i:stage_at]
        if stage_at is not None:
            stage, j = cells[stage_at], stage_at + 1
            if j < len(cells) and not _STAGE.match(stage + "x") and _STAGE_TAIL.match(cells[j]) and stage[-1] in "-—–~至":
                stage, j = stage + cells[j], j + 1
            unit = cells[j] if j < len(cells) else ""
            tail = [stage, unit, "、".join(c for c in cells[j + 1 :] if c)]
        prev = self.rows[-1] if self.rows else None
        row: dict = {"no": number, "heads": {}, "items": []}
        for level in (1, 2):
            row["heads"][level] = heads.get(level) or (prev["heads"][level] if prev else "")
        n_items = max(1, n_cols - 3 - 3) if tail else max(1, n_cols - 3)
        groups = _item_groups(content)
        if prev and prev["no"] == number and len(groups) < n_items:
            self._continue(prev, groups, tail)
            return
        while len(groups) > n_items:
            groups[-2:] = [groups[-2] + groups[-1]]
        if len(groups) < n_items:
            groups = [[]] * (n_items - len(groups)) + groups
        row["items"], row["tail"] = groups, tail
        if prev and prev["no"] == number:
            for k, g in enumerate(groups):
                prev["items"][k] += [c for c in g if c not in prev["items"][k]]
            return
        self.rows.append(row)

    @staticmethod
    def _continue(prev: dict, groups: list[list[str]], tail: list[str]) -> None:
        """A page-break continuation row: append each group to the column its numbering continues."""
        for g in groups:
            m = _ITEM_NO.match(g[0])
            first = int(m.group(1)) if m else None
            target = len(prev["items"]) - 1
            for k, col in enumerate(prev["items"]):
                last = _ITEM_NO.match(col[-1]) if col else None
                if first is not None and last and int(last.group(1)) + 1 == first:
                    target = k
                    break
            prev["items"][target] += [c for c in g if c not in prev["items"][target]]
        if tail and not prev.get("tail"):
            prev["tail"] = tail

    def records(self) -> list[str]:
        names = self.header
        out = []
        for row in self.rows:
            values = [str(row["no"]), row["heads"][1], row["heads"][2]]
            values += [" ".join(g) for g in row["items"]]
            values += row.get("tail") or []
            fields = [f"{n}：{v}" for n, v in zip(names, values, strict=False) if v]
            out += ["", "；".join(fields), ""]
        return out


def _cell_stream(lines: list[str]) -> list[tuple[int, str]]:
    """(line index, cell) for every non-blank line; a line of only non-breaking spaces is an empty cell."""
    out = []
    for idx, line in enumerate(lines):
        if line == "" or not line.strip(" \t"):
            continue
        out.append((idx, line.strip()))
    return out


def rebuild_flat_tables(lines: list[str]) -> list[str]:
    """Find a header run (>= 4 short cells followed by row number 1) and rebuild its rows as records."""
    cells = _cell_stream(lines)
    for h in range(len(cells)):
        run = 0
        while h + run < len(cells) and cells[h + run][1] and _HEADER_CELL.match(cells[h + run][1]):
            run += 1
        if run < 4 or h + run >= len(cells) or cells[h + run][1] != "1":
            continue
        names = [c for _, c in cells[h : h + run]]
        first = next((k for k, c in enumerate(names) if c in _NUMBER_HEADERS), 0)
        if run - first < 4:
            continue
        h, run = h + first, run - first  # a caption line just above the header is not a column
        table = _FlatTable([c for _, c in cells[h : h + run]])
        k, number, end = h + run, 1, h + run
        while k < len(cells) and cells[k][1] == str(number):
            j = k + 1
            while j < len(cells) and not (
                _ROW_NO.match(cells[j][1]) and int(cells[j][1]) in (number, number + 1) and j > k + 2
            ):
                j += 1
            body = [c for _, c in cells[k + 1 : j]]
            if j >= len(cells):  # last row: stop after its leader cells
                stage_at = next((t for t, c in enumerate(body) if _STAGE.match(c)), None)
                if stage_at is not None:
                    t = stage_at + 1
                    if t < len(body) and _STAGE_TAIL.match(body[t]) and body[stage_at][-1] in "-—–~至":
                        t += 1
                    t += 1
                    while t < len(body) and _LEADER.match(body[t]) and t - stage_at <= 5:
                        t += 1
                    body = body[:t]
            table.parse_row(number, body)
            end = k + len(body)
            k = j
            if k < len(cells) and _ROW_NO.match(cells[k][1]):
                number = int(cells[k][1])
        first_line, last_line = cells[h][0], cells[end][0]
        rest = rebuild_flat_tables(lines[last_line + 1 :])
        return lines[:first_line] + table.records() + rest
    return lines


@dataclass
class CleanedDocument:
    """Display text in the original script, plus what could not be repaired."""

    text: str
    warnings: list[str] = field(default_factory=list)


class _HtmlText(HTMLParser):
    """Collect text; block-level tags become paragraph breaks."""

    _BLOCK = {"p", "br", "div", "li", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(text: str) -> str:
    """Strip markup and unescape entities; ``<p>``/``<br>`` become line breaks."""
    if not _HTML_TAG.search(text) and "&" not in text:
        return text
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    out = "".join(parser.parts)
    return re.sub(r"[ \t]*\n[ \t]*", "\n", out)


def remove_pinyin(text: str) -> str:
    """Drop ``區(qū)``-style annotations; real parentheses such as ``(市、區)`` or ``(2023)`` stay."""

    def note(m: re.Match) -> str:
        return "" if _PINYIN_SYLLABLE.match(m.group(1)) else m.group(0)

    text = _PINYIN_NOTE.sub(note, text)
    return _ORPHAN_PINYIN.sub(lambda m: "" if _PINYIN_SYLLABLE.match(m.group(1)) else m.group(0), text)


def _drop_chrome(lines: list[str]) -> list[str]:
    """Remove navigation crumbs and attachment file names; merge ``• 标签:`` / ``• 值`` pairs."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if _CHROME_START.match(line) or _BREADCRUMB.match(line) or _ATTACHMENT_FILE.match(line):
            i += 1
            continue
        if _BULLET.match(line):
            label = _BULLET.sub("", line)
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if label.endswith((":", "：")) and _BULLET.match(nxt):
                out.append(label + _BULLET.sub("", nxt))
                i += 2
                continue
            out.append(label)
            i += 1
            continue
        out.append(lines[i])
        i += 1
    while out and (not out[-1].strip() or out[-1].strip().isdigit()):
        out.pop()  # trailing page counters such as a lone "0"
    return out


def _normalise_lines(lines: list[str]) -> str:
    """Strip each line (full-width indentation too) and keep at most one blank line between paragraphs."""
    out: list[str] = []
    for raw in lines:
        line = _MD_HEADING.sub("", raw.strip()).strip()
        if _RULE_LINE.match(raw) and "-" in raw:
            continue
        if not line:
            if out and out[-1]:
                out.append("")
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def clean_text(raw: str, *, file: str = "") -> CleanedDocument:
    """Repair one document's text; deterministic and fast (no I/O, regexes and small lookups only)."""
    warnings: list[str] = []
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    text, moji_warnings = repair_mojibake(text)
    warnings.extend(moji_warnings)
    pua = _PUA.findall(text)
    if pua:
        warnings.append(f"dropped {len(pua)} private-use character(s) that could not be decoded")
        text = _PUA.sub("", text)
    text = remove_pinyin(text)
    lines = text.split("\n")
    lines = rebuild_tsv_tables(lines, html_to_text)
    text = html_to_text("\n".join(lines))
    lines = _drop_chrome(text.split("\n"))
    lines = rebuild_flat_tables(lines)
    cleaned = _normalise_lines(lines)
    for w in warnings:
        logger.warning("%s: %s", file or "<text>", w)
    return CleanedDocument(text=cleaned, warnings=warnings)
