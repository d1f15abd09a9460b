"""Passages to a searchable build: embeddings, Chroma, BM25, the catalog of a build."""
