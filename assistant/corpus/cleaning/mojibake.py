"""GBK byte-shift mojibake: text read one byte out of step, repaired by re-reading its bytes in step.

A lost lead byte shows as "?", then every pair is misread ("?。ㄒ唬┲黧w" = "（一）主體") until an ASCII
trail byte resynchronises the stream. Re-encoding the span and decoding it one byte later recovers the
text. Legacy (CP936 / GB18030-2000) decoders mapped some 2-byte codes to private-use characters; Python's
GB18030-2005 codec does not, so that reverse map is rebuilt from the ranges in ``data/corpus.toml``.
"""

from __future__ import annotations

import re

from assistant.core.lexicon import table
from assistant.corpus.cleaning.pinyin import PINYIN_CHARS, PINYIN_NOTE

PUA = re.compile("[\ue000-\uf8ff]")
_MOJI_MAX_SPAN = 48  # a misread span longer than this is not repaired (the "?" was a real question mark)
_GOOD_DECODED = re.compile(r"^[\u3400-\u9fff\u3000-\u303f\uff01-\uff5e“”‘’…—]+$")
_PINYIN_AFTER = re.compile(rf"({PINYIN_CHARS})\)")
_LOST_CHAR = re.compile(rf"\?({PINYIN_CHARS})\)")
_LOST_LEAD = re.compile(rf"(?<=[^\x00-\x7f])([\x40-\x7e])\(({PINYIN_CHARS})\)")


def _legacy_pua_map() -> dict[str, bytes]:
    rules = table("corpus")["cleaning"]["mojibake"]
    out: dict[str, bytes] = {}
    code = rules["legacy_pua_first"]
    for lo, hi in rules["legacy_pua_ranges"]:
        for value in range(lo, hi + 1):
            if value & 0xFF == 0x7F:
                continue
            out[chr(code)] = value.to_bytes(2, "big")
            code += 1
    return out


_LEGACY_PUA = _legacy_pua_map()


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
        for m in PINYIN_NOTE.finditer(text):
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

        def lead_lost(m: re.Match[str]) -> str:
            ch = self._by_pinyin_and_byte(m.group(2), 1, ord(m.group(1)))
            if ch is None:
                self.warnings.append(f"one character lost (only its trail byte {m.group(1)!r} survived)")
                return ""
            return ch

        return _LOST_LEAD.sub(lead_lost, repaired)


def repair_mojibake(text: str) -> tuple[str, list[str]]:
    """Undo GBK byte-shift mojibake; returns the text and warnings for what stayed lost."""
    if "?" not in text and not PUA.search(text):
        return text, []
    fixer = _MojibakeRepair(text)
    return fixer.run(), fixer.warnings
