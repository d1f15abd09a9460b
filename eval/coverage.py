"""``python -m eval coverage``: how much of each document's text reaches some chunk (no embedding).

The bar is "every sentence of every document reaches some chunk"; see ``assistant.corpus.coverage`` for
what counts as a sentence line and as reaching a chunk. Lines no chunk holds are listed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_coverage_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("coverage", help="share of each document's sentence lines that reach some chunk")
    p.add_argument("--corpus", type=Path, help="corpus folder (default: settings)")
    p.set_defaults(func=cmd_coverage)


def cmd_coverage(args: argparse.Namespace) -> int:
    from assistant.corpus.coverage import corpus_coverage, overall_share
    from assistant.settings import Settings

    corpus = args.corpus or Settings().corpus_dir
    if not Path(corpus).is_dir():
        print(f"error: corpus folder not found: {corpus}", file=sys.stderr)
        return 2
    reports, skipped = corpus_coverage(corpus)
    print(f"{'document':48} {'lines':>6} {'counted':>8} {'in text':>8} {'heading':>8} {'coverage':>9}")
    for r in reports:
        print(f"{r.file:48} {r.lines:6d} {r.counted:8d} {r.in_text:8d} {r.in_heading:8d} {r.share:9.2%}")
        for line in r.missed:
            print(f"    missed: {' '.join(line.split())[:80]}")
    for item in skipped:
        print(f"skipped {item}")
    counted = sum(r.counted for r in reports)
    print(f"overall: {overall_share(reports):.2%} of {counted} sentence lines in {len(reports)} documents ({corpus})")
    return 0
