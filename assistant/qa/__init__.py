"""Cited answers: the extractive and LLM answerers, citation checks, notices, the query and chat engines."""
