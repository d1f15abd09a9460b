"""Shared test set-up: offline environment before any library loads, and common fixtures."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _own_temp_dir_per_xdist_worker() -> None:
    """With ``pytest -n 2`` (pytest-xdist) each worker gets a temp dir of its own, before any library reads it:
    the checks of what the app leaves in the temp dir and in Gradio's cache (test_soak, test_ui) then see only
    their own worker's files, and each worker's PostgreSQL and exports live apart."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    folder = Path(tempfile.gettempdir()) / f"pytest-policy-qa-{worker}"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)  # the postgres user must reach its data dir inside (pg_server.py)
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = None


_own_temp_dir_per_xdist_worker()  # before ``assistant`` loads its libraries

from assistant.settings import PROJECT_ROOT, Settings, prepare_offline_environment  # noqa: E402

prepare_offline_environment()

SEEDS_DIR = PROJECT_ROOT.parent / "shared" / "seeds"
CORPUS_DIR = PROJECT_ROOT / "corpus"


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    """Settings with a private index dir and the offline answerer; the default corpus."""
    return Settings(corpus_dir=CORPUS_DIR, index_dir=tmp_path / "index", answerer="extractive")


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The default corpus indexed once per test session (vectors from the shipped cache when current)."""
    from assistant.index.build import update_index

    settings = Settings(
        corpus_dir=CORPUS_DIR, index_dir=tmp_path_factory.mktemp("corpus-index"), answerer="extractive"
    )
    update_index(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def engine(corpus_index: Settings):
    import assistant

    return assistant.build_query_engine(corpus_index)


@pytest.fixture(scope="session")
def real_app_url(corpus_index: Settings) -> Iterator[str]:
    """The whole app (UI, /v1) with the real engine on ``corpus_index``, on loopback, started once per session
    for every test that talks to it through HTTP, gradio_client or a browser."""
    from assistant.server import serving

    with serving(corpus_index) as url:
        yield url


SMALL_DOCS = {
    "alpha_city_measures.txt": (
        "甲市促进中小企业发展若干措施\n\n一、支持企业做大做强\n"
        "（一）奖励新升规企业。对首次升规的企业给予一次性奖励20万元。\n"
        "（二）支持企业上市。对在境内主板上市的企业给予奖励300万元。\n"
        "二、优化融资服务\n（一）降低担保费率。政府性融资担保机构担保费率不超过1%。\n"
    ),
    "beta_county_opinions.txt": (
        "乙县关于支持民营经济发展的意见\n\n一、减轻企业负担\n"
        "1.减免租金。对入驻孵化器的小微企业，前两年租金全免。\n"
        "2.稳岗返还。对不裁员或少裁员的企业，返还上年度失业保险费的50%。\n"
    ),
}


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """Two tiny documents in a fresh folder (cheap to embed with the real model)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in SMALL_DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def small_settings(tmp_path: Path, small_corpus: Path) -> Settings:
    return Settings(corpus_dir=small_corpus, index_dir=tmp_path / "index", answerer="extractive")
