"""Evaluation harness: scores the product and plain LlamaIndex baselines on a question set.

``python -m eval run|bench|diff``; the question format and metric definitions are in
``../shared/EVAL_FORMAT.md`` and ``eval/README.md``.
"""
