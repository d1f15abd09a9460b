"""Policy QA: answers about Chinese enterprise-support policy, from the corpus only, with citations.

    import assistant
    engine = assistant.build_query_engine()
    r = engine.query("温州对首次小升规企业奖励多少？")
    print(r.response, r.metadata["answerable"], r.source_nodes[0].node.metadata["section"])
    print(assistant.compare("温州、聊城对小升规企业分别怎么奖励？").to_markdown())
    print(assistant.match("乐清的一家制造业企业，120人，年营收5000万元，专精特新").to_markdown())
"""

import logging

from assistant.settings import Settings, get_settings, prepare_offline_environment

prepare_offline_environment()

from assistant.core.schema import REFUSAL, Answer, Citation  # noqa: E402
from assistant.decisions.comparing import Comparison, compare  # noqa: E402
from assistant.decisions.eligibility import MatchResult, MeasureMatch, Profile, ProfileError, match  # noqa: E402
from assistant.decisions.router import build_chat_engine, build_query_engine  # noqa: E402
from assistant.index.build import IndexReport, update_index  # noqa: E402
from assistant.index.catalog import DocumentInfo, open_catalog  # noqa: E402
from assistant.qa.engine import InvalidQuestionError, PolicyChatEngine, PolicyQueryEngine, build_answerer  # noqa: E402
from assistant.retrieval.retriever import Filters, HybridRetriever, UnknownFilterError, build_retriever  # noqa: E402

logging.getLogger(__name__).addHandler(logging.NullHandler())


def ensure_index(settings: Settings | None = None) -> IndexReport:
    """Bring the index up to date with the corpus (cheap when nothing changed)."""
    return update_index(settings, progress=False)


def list_documents(settings: Settings | None = None) -> list[DocumentInfo]:
    """Documents of the current index (built first if missing), for filters and the UI."""
    return open_catalog(settings).documents


__all__ = [
    "REFUSAL",
    "Answer",
    "Citation",
    "Comparison",
    "DocumentInfo",
    "Filters",
    "HybridRetriever",
    "InvalidQuestionError",
    "MatchResult",
    "MeasureMatch",
    "PolicyChatEngine",
    "PolicyQueryEngine",
    "Profile",
    "ProfileError",
    "Settings",
    "UnknownFilterError",
    "build_answerer",
    "build_chat_engine",
    "build_query_engine",
    "build_retriever",
    "compare",
    "ensure_index",
    "get_settings",
    "list_documents",
    "match",
    "update_index",
]
