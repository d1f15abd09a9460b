"""Prompts live as files in ``prompts/``; this module loads them by name and renders the source blocks.

Placeholders are read from the file with ``string.Formatter`` at load time, so a prompt and the code
filling it cannot drift apart silently: a missing or unexpected field fails loudly, naming the file.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from llama_index.core.schema import NodeWithScore

__all__ = [
    "PROMPTS_DIR",
    "Prompt",
    "PromptError",
    "format_source",
    "format_sources",
    "load_prompt",
    "neutralise",
]

PROMPTS_DIR = Path(str(resources.files("assistant") / "prompts"))  # package data: assistant/prompts/*.txt


class PromptError(ValueError):
    """A prompt file is missing or its placeholders do not match the values given."""


@dataclass(frozen=True)
class Prompt:
    name: str
    template: str
    fields: frozenset[str]

    def format(self, **values: object) -> str:
        missing = self.fields - values.keys()
        extra = values.keys() - self.fields
        if missing or extra:
            raise PromptError(
                f"prompt {self.name!r}: missing placeholders {sorted(missing)}, unexpected {sorted(extra)}; "
                f"the file prompts/{self.name}.txt uses {sorted(self.fields)}"
            )
        return self.template.format(**values)


def _fields(name: str, template: str) -> frozenset[str]:
    fields: set[str] = set()
    try:
        for _, field, spec, conversion in string.Formatter().parse(template):
            if field is None:
                continue
            if not field.isidentifier() or spec or conversion:
                raise PromptError(f"prompt {name!r}: placeholder {{{field}}} must be a plain name")
            fields.add(field)
    except ValueError as exc:  # a lone "{" or "}": literal braces must be doubled
        raise PromptError(f"prompt {name!r}: {exc} (write literal braces as {{{{ and }}}})") from exc
    return frozenset(fields)


@lru_cache(maxsize=32)
def _load(path: Path) -> Prompt:
    if not path.is_file():
        raise PromptError(f"prompt file not found: {path}")
    template = path.read_text(encoding="utf-8").strip() + "\n"
    return Prompt(path.stem, template, _fields(path.stem, template))


def load_prompt(name: str, prompts_dir: Path | None = None) -> Prompt:
    """The prompt ``prompts/<name>.txt``, its placeholders checked."""
    return _load((prompts_dir or PROMPTS_DIR) / f"{name.removesuffix('.txt')}.txt")


_TAG = re.compile(r"<\s*(/?)\s*(source|question|answer|history)\b", re.IGNORECASE)


def neutralise(text: str) -> str:
    """Make document text unable to close or open a delimiter block ("</source>" -> "＜/source>")."""
    return _TAG.sub(lambda m: f"＜{m.group(1)}{m.group(2)}", text)


def _attr(value: object) -> str:
    """An attribute value that cannot end its quotes or the tag; " > " in section paths stays readable."""
    return " ".join(neutralise(str(value)).replace('"', "“").split())


def format_source(n: int, nws: NodeWithScore) -> str:
    """One passage as a numbered, delimited block; its text is data, never markup."""
    md = nws.node.metadata
    attrs = {"id": str(n), "title": md.get("title", ""), "section": md.get("section", "")}
    for key in ("doc_number", "date", "jurisdiction", "city"):
        if md.get(key):
            attrs[key] = md[key]
    head = " ".join(f'{key}="{_attr(value)}"' for key, value in attrs.items())
    return f"<source {head}>\n{neutralise(nws.node.get_content().strip())}\n</source>"


def format_sources(passages: list[NodeWithScore]) -> str:
    return "\n\n".join(format_source(i, nws) for i, nws in enumerate(passages, start=1))
