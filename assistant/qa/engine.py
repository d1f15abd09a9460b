"""The query and chat engines, as the other stages import them.

The engines live by job: ``question`` (input checks), ``query_engine`` (retrieve, answer, Response),
``chat`` (follow-ups); this module keeps the one import path the API, UI, eval and decisions use.
"""

from assistant.qa.chat import FOLLOWUP, Condenser, PolicyChatEngine, Turn, build_chat_engine, rewrite_followup
from assistant.qa.context import AnswerContext, Answerer
from assistant.qa.query_engine import Comparer, PolicyQueryEngine, build_answerer, build_query_engine
from assistant.qa.question import InvalidQuestionError, prepare_question

__all__ = [
    "FOLLOWUP",
    "AnswerContext",
    "Answerer",
    "Comparer",
    "Condenser",
    "InvalidQuestionError",
    "PolicyChatEngine",
    "PolicyQueryEngine",
    "Turn",
    "build_answerer",
    "build_chat_engine",
    "build_query_engine",
    "prepare_question",
    "rewrite_followup",
]
