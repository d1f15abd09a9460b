"""Question understanding and hybrid retrieval over one index build."""
