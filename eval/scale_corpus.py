"""Corpora of a given size in passages for ``python -m eval scale``, from real text, and the stand-in embedder.

Every corpus is the default corpus plus documents made of the reading-comprehension paragraphs in
``../shared/data/reading-comprehension/`` (CMRC 2018 and DRCD, Wikipedia text): each document has a
title and ten numbered sections, each a paragraph. Past the ~1,256 real paragraphs, deterministic
variants are made: sentences rotated, digits shifted, paragraphs regrouped, so every passage's text (and
vector) is distinct while the language stays real. The same size always gives the same files.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from assistant.settings import PROJECT_ROOT

READING = PROJECT_ROOT.parent / "shared" / "data" / "reading-comprehension"
SECTIONS = "一二三四五六七八九十"
_SENTENCE = re.compile(r"(?<=[。！？!?])")
STAMP = ".scale-corpus"


@cache
def paragraphs() -> tuple[tuple[str, str], ...]:
    """(article title, paragraph) of both reading-comprehension sets, in file order."""
    out: list[tuple[str, str]] = []
    for name in ("cmrc2018_trial.json", "DRCD_test.json"):
        data = json.loads((READING / name).read_text(encoding="utf-8-sig"))["data"]
        for article in data:
            title = str(article.get("title") or article.get("id") or name)
            out.extend((title, str(p["context"]).strip()) for p in article["paragraphs"] if str(p["context"]).strip())
    if not out:
        raise FileNotFoundError(f"no paragraphs under {READING}")
    return tuple(out)


def _variant(text: str, v: int) -> str:
    """Variant ``v`` of a paragraph: its sentences rotated by v and its digits shifted by v (v=0: as is)."""
    if not v:
        return text
    sentences = [s for s in _SENTENCE.split(text) if s]
    k = v % len(sentences)
    rotated = "".join(sentences[k:] + sentences[:k])
    return re.sub(r"\d", lambda m: str((int(m.group()) + v) % 10), rotated)


def document(i: int) -> tuple[str, str]:
    """Generated document ``i``: (file name, text). Ten sections, each a (variant of a) real paragraph."""
    pool = paragraphs()
    v, slot = divmod(i * 10, len(pool))
    order = list(range(len(pool)))
    random.Random(f"scale-{v}").shuffle(order)  # variant v regroups the paragraphs
    picked = [pool[order[(slot + j) % len(pool)]] for j in range(10)]
    title = f"{picked[0][0]}资料汇编（第{i + 1}号）"
    body = "\n".join(f"{SECTIONS[j]}、{t}\n{_variant(p, v)}" for j, (t, p) in enumerate(picked))
    return f"gen_{i:06d}.txt", f"{title}\n\n{body}\n"


def write_corpus(folder: Path, documents: int) -> None:
    """The default corpus (with its shipped vectors) plus ``documents`` generated ones; kept when already there."""
    stamp = folder / STAMP
    if stamp.exists() and stamp.read_text(encoding="utf-8") == str(documents):
        return
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(PROJECT_ROOT / "corpus", folder)
    for i in range(documents):
        name, text = document(i)
        (folder / name).write_text(text, encoding="utf-8")
    stamp.write_text(str(documents), encoding="utf-8")


def documents_for(passages: int, per_document: float, base: int = 301) -> int:
    """Generated documents for about ``passages`` passages in all (the default corpus has ``base``)."""
    return max(0, round((passages - base) / per_document))


class StandInEmbedding(BaseEmbedding):
    """Deterministic vector-from-text-hash passages (no model cost), the real model for questions.

    Stands in for the model on the largest corpora: embedding 100,000 passages would take hours on
    2 cores. Query latency stays real (the model embeds each question); dense results are meaningless
    (the model's own cost per passage is measured separately).
    """

    model_name: str = "stand-in-text-hash"
    dim: int = 384
    _query_model: Any = PrivateAttr(default=None)

    def __init__(self, query_model: BaseEmbedding | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._query_model = query_model

    @property
    def embedder_id(self) -> str:
        return f"stand-in-text-hash-{self.dim}"

    @staticmethod
    def vector(text: str, dim: int = 384) -> list[float]:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
        return (v / np.linalg.norm(v)).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        if self._query_model is None:
            return self.vector(query, self.dim)
        return self._query_model.get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.vector(text, self.dim)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [self.vector(t, self.dim) for t in texts]
