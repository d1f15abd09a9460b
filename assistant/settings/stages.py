"""The stage sub-models of ``Settings``: the tuned constants of retrieval, chunking and indexing.

Set with a double underscore (POLICY_QA_RETRIEVAL__RRF_K=30); the fusion defaults come from the fitted
file ``assistant/data/fusion.toml``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, Field

# The fusion weights are fitted on held-apart data by `python -m eval fit-fusion`, which writes them with their
# provenance (data, split, metric, grid, scores) to this file; the defaults below come from it.
FUSION_FILE = Path(__file__).resolve().parent.parent / "data" / "fusion.toml"
_FUSION = tomllib.loads(FUSION_FILE.read_text(encoding="utf-8"))["fitted"]


class RetrievalSettings(BaseModel):
    """Tuned constants of hybrid retrieval (assistant/retrieval/): POLICY_QA_RETRIEVAL__<NAME>."""

    rrf_k: float = Field(
        _FUSION["rrf_k"], gt=0,
        description="Reciprocal-rank fusion constant: a passage at rank r of a leg adds weight / (k + r) (fitted).",
    )
    dense_weight: float = Field(
        _FUSION["dense_weight"], ge=0, description="Weight of the dense (embedding) leg in the fusion (fitted)."
    )
    sparse_weight: float = Field(
        _FUSION["sparse_weight"], ge=0, description="Weight of the BM25 leg over jieba words in the fusion (fitted)."
    )
    char_weight: float = Field(
        _FUSION["char_weight"], ge=0,
        description="Weight of the BM25 leg over character n-grams in the fusion (fitted; 0 switches it off).",
    )
    leg_depth: int = Field(100, ge=1, description="Best passages of each leg that enter the fusion.")
    dense_candidates: int = Field(
        5, ge=1, description="The dense leg asks the vector store for top_k times this many passages."
    )
    dense_min_candidates: int = Field(50, ge=1, description="Fewest passages the dense leg asks the vector store for.")
    named_document_boost: float = Field(
        1.0, ge=0, description="Added to the fused score of passages from a document the question names (文号 or title)."
    )
    exact_place_factor: float = Field(
        _FUSION["exact_place_factor"],
        ge=1,
        description="Multiplies the fused score of passages of the very place the question names (not a province "
        "above it or a national document) (fitted).",
    )
    query_embed_chars: int = Field(
        400, ge=1, description="Leading characters of a question that are embedded (embedding a long one costs seconds)."
    )
    abbreviation_min_chars: int = Field(
        4, ge=1, description="Shortest run of a title's words that names the document (友好城市实施意见)."
    )
    english_ratio: float = Field(
        2.0, gt=0, description="A question is English when it has more than this many Latin letters per Han character."
    )


class ChunkingSettings(BaseModel):
    """Chunk sizes in characters of cleaned text (assistant/corpus/spans.py): POLICY_QA_CHUNKING__<NAME>.

    Changing one re-chunks the corpus: chunks, and so citations and retrieval, change.
    """

    min_chars: int = Field(
        150, ge=2, description="A section's last piece shorter than half this is merged into the piece before it."
    )
    max_chars: int = Field(
        600, ge=1, description="A section longer than this is split at sentence ends into pieces of at most this."
    )
    hard_max_chars: int = Field(
        900, ge=1, description="A piece still longer than this (one long sentence) is split at commas as a last resort."
    )


class IndexingSettings(BaseModel):
    """Embedding batches and segment merging of the index stage (assistant/index/): POLICY_QA_INDEXING__<NAME>."""

    embed_batch_size: int = Field(16, ge=1, description="Passages embedded per batch (one request with embedder=openai).")
    embed_concurrency: int = Field(
        4, ge=1, description="Embedding requests in flight at once with embedder=openai (the bundled model uses every core)."
    )
    embed_max_retries: int = Field(
        5, ge=0, description="Retries of an embedding request answered 429, 5xx or not at all (backoff, Retry-After)."
    )
    embed_timeout: float = Field(60.0, gt=0, description="Seconds before an embedding request is abandoned (then retried).")
    max_delta_segments: int = Field(
        8, ge=1, description="Small segments (one per update) kept before an update folds them into one."
    )
    merge_share: float = Field(
        0.25,
        gt=0,
        description="When passages outside sealed segments plus replaced ones inside them pass this share of the corpus, "
        "an update rewrites one sealed segment from all documents (copied, not re-embedded).",
    )
    merge_min_passages: int = Field(
        2000, ge=0, description="Fewest such passages that trigger that merge (a small corpus is not merged on every update)."
    )
    build_batch_passages: int = Field(
        2048, ge=1, description="Passages a full build chunks, embeds and writes at a time: its memory holds one "
        "batch, not the corpus."
    )
    meta_rewrite_share: float = Field(
        0.05, gt=0, le=1, description="An update's meta names only the document records that changed since the "
        "last build that wrote them all, until those pass this share of the corpus (assistant/index/docmeta.py)."
    )
    chroma_filter_docs: int = Field(
        64, ge=0, description="A question's document filter naming more documents than this is applied to Chroma's "
        "results instead of inside Chroma (a long $in list costs Chroma more)."
    )
