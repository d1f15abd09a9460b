"""From files to passages: loading, metadata, cleaning, chunking, document lifecycles."""
