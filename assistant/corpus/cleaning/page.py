"""Web-page debris around the policy text: navigation crumbs, attachment names, bullets, markdown marks.

The words that mark page chrome are data (``data/corpus.toml``); the markdown syntax is here.
"""

from __future__ import annotations

import re

from assistant.core.lexicon import pattern

RULE_LINE = re.compile(r"^[\s|:\-\t]*-{3,}[\s|:\-\t]*$")  # a markdown table rule (---|---) or a bare ---
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_CHROME_START = pattern("corpus", "cleaning.page.chrome_start")
_BREADCRUMB = pattern("corpus", "cleaning.page.breadcrumb")
_ATTACHMENT_FILE = pattern("corpus", "cleaning.page.attachment_file", re.I)
_BULLET = pattern("corpus", "cleaning.page.bullet")


def drop_chrome(lines: list[str]) -> list[str]:
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


def normalise_lines(lines: list[str]) -> str:
    """Strip each line (full-width indentation too) and keep at most one blank line between paragraphs."""
    out: list[str] = []
    for raw in lines:
        line = _MD_HEADING.sub("", raw.strip()).strip()
        if RULE_LINE.match(raw) and "-" in raw:
            continue
        if not line:
            if out and out[-1]:
                out.append("")
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)
