"""Structured answers built on retrieval and qa: comparisons across places, eligibility matching."""
