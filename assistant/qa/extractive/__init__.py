"""The offline extractive answerer: cited sentences of the top passages, or a decline.

- ``questions``: what a question asks for (form words, quoted names, the asked-for noun);
- ``figures``: the kind of figure a question asks for and a sentence states;
- ``years``: the year a figure is for, and the notice when it is not the asked one;
- ``scoring``: the question's ideas and how much of them a text covers (term weights);
- ``candidates``: every sentence scored, and which may answer;
- ``composing``: chosen sentences into a draft with ``[k]`` markers;
- ``answerer``: ``ExtractiveAnswerer`` (the flow) and ``refusal``.
"""

from assistant.qa.context import AnswerContext, Answerer
from assistant.qa.extractive.answerer import ExtractiveAnswerer, refusal
from assistant.qa.extractive.candidates import Candidate
from assistant.qa.extractive.figures import expected_unit, number_units
from assistant.qa.extractive.questions import QUESTION_WORDS, asked_words, focus_word, quoted_terms
from assistant.qa.extractive.scoring import Concept, default_weight, idf_from_bm25
from assistant.qa.extractive.years import year_mismatch, year_notice, years_in

__all__ = [
    "QUESTION_WORDS",
    "AnswerContext",
    "Answerer",
    "Candidate",
    "Concept",
    "ExtractiveAnswerer",
    "asked_words",
    "default_weight",
    "expected_unit",
    "focus_word",
    "idf_from_bm25",
    "number_units",
    "quoted_terms",
    "refusal",
    "year_mismatch",
    "year_notice",
    "years_in",
]
