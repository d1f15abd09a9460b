"""``policy-qa``: index the corpus, list chunks, ask questions, start the server (UI and API).

- ``entry``: ``main(argv, settings)``: parse, set up logging, dispatch, turn errors into exit codes;
- ``parser``: the argument parser (every subcommand and its options);
- ``commands``: index, chunks, ask, docs, export-cache, serve; ``tables``: compare and match;
- ``history``: keys and logs (the store).

``main`` is safe to call in-process repeatedly (tests do): settings are passed down, and the root logger
is put back as it was when the command returns.
"""

from __future__ import annotations

from assistant.cli.entry import build_parser, main
from assistant.cli.errors import EXIT_USAGE, UsageError

__all__ = ["EXIT_USAGE", "UsageError", "build_parser", "main"]
