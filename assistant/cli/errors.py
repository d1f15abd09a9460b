"""What every ``policy-qa`` command may raise or return besides success."""

from __future__ import annotations

EXIT_USAGE = 2  # the command was called wrongly (argparse uses 2 too); 1 = the index or database failed


class UsageError(ValueError):
    """The command was called in a way it cannot serve; the message says how to call it."""
