"""Shared building blocks with no project dependencies: text forms, numbers, dates, the heading grammar, answer types."""
