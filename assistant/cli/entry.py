"""The entry point: parse, set up logging, run the command, turn known errors into exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.cli.errors import EXIT_USAGE, UsageError
from assistant.cli.parser import build_parser
from assistant.server.logs import configure_logging
from assistant.settings import Settings, get_settings, prepare_offline_environment

prepare_offline_environment()

__all__ = ["build_parser", "command_settings", "main"]


def command_settings(base: Settings, args: object) -> Settings:
    """``base`` with the command's --corpus, --index-dir and --answerer applied."""
    overrides: dict[str, object] = {}
    if getattr(args, "corpus", None):
        overrides["corpus_dir"] = Path(args.corpus)
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = Path(args.index_dir)
    if getattr(args, "answerer", None):
        overrides["answerer"] = args.answerer
    return base.model_copy(update=overrides) if overrides else base


@contextmanager
def _logging(settings: Settings, verbose: bool) -> Iterator[None]:
    """``configure_logging`` for the command, then the root logger as it was: a second in-process call
    (a test, a script) finds no handler bound to a stream that is gone, and no level left behind."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    saved = {h: (h.level, list(h.filters)) for h in handlers}
    configure_logging(settings, verbose=verbose)  # secrets redacted from every record
    try:
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
        for handler, (handler_level, filters) in saved.items():
            handler.setLevel(handler_level)
            handler.filters[:] = filters


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Run ``policy-qa`` with ``argv`` (default ``sys.argv``) on ``settings`` (default: the environment's);
    returns the exit code. argparse errors raise ``SystemExit(2)`` as usual."""
    base = settings or get_settings()
    args = build_parser(base).parse_args(argv)
    settings = command_settings(base, args)
    with _logging(settings, args.verbose):
        usage, broken = _known_errors()
        try:
            return args.func(args, settings)
        except usage as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return EXIT_USAGE
        except broken as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130


def _known_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """(usage errors: exit 2, a broken index or store: exit 1), imported once logging is set up."""
    from assistant.decisions.eligibility import ProfileError
    from assistant.index.build import EmbedderMismatchError, EmptyIndexError, IndexBusyError
    from assistant.index.layout import IndexCorruptError, IndexMissingError
    from assistant.index.store import StoreUnavailableError
    from assistant.qa.engine import InvalidQuestionError
    from assistant.retrieval.retriever import UnknownFilterError

    usage = (InvalidQuestionError, UnknownFilterError, UsageError, ProfileError, EmptyIndexError)
    broken = (IndexCorruptError, IndexMissingError, EmbedderMismatchError, IndexBusyError, StoreUnavailableError)
    return usage, broken
