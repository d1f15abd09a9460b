"""Command line of the evaluation harness: ``python -m eval run|bench|diff|load|decisions|...``.

Each command lives with the code it runs (``eval/run.py``, ``eval/bench.py``, ``eval/diff.py``,
``eval/decisions.py`` ...): its module adds its parser and sets ``func``; this module only assembles them.
Exit codes: 0 success, 1 the quality gate failed, 2 bad input (question file, thresholds, options).
"""

from __future__ import annotations

import argparse
import logging
import sys

from assistant.settings import prepare_offline_environment

prepare_offline_environment()


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m eval", description="Evaluate Policy QA on a question set.")
    sub = ap.add_subparsers(dest="command", required=True)
    from eval.run import add_run_parser

    add_run_parser(sub)  # python -m eval run: score pipelines on a question set, report, --gate
    from eval.bench import add_bench_parsers

    add_bench_parsers(sub)  # python -m eval bench: speed and memory against a plain LlamaIndex baseline
    from eval.diff import add_diff_parser

    add_diff_parser(sub)  # python -m eval diff: questions whose outcome changed between two runs
    from eval.decisions import add_decisions_parser

    add_decisions_parser(sub)  # python -m eval decisions: comparison tables and eligibility on labelled sets
    from eval.load import add_load_parser

    add_load_parser(sub)  # python -m eval load: concurrent conversations against the chat UI and/or /v1
    from eval.from_feedback import add_parser as add_from_feedback_parser

    add_from_feedback_parser(sub)  # python -m eval from-feedback: drafts from answers rated down
    from eval.coverage import add_coverage_parser

    add_coverage_parser(sub)  # python -m eval coverage: share of each document's sentences in some chunk
    from eval.soak import add_soak_parser

    add_soak_parser(sub)  # python -m eval soak: normal and hostile requests through the UI and /v1 on loopback
    from eval.fit_answerer import add_parser as add_fit_answerer_parser

    add_fit_answerer_parser(sub)  # python -m eval fit-answerer: the offline answer model from reading-comprehension data
    from eval.fit_fusion import add_parser as add_fit_fusion_parser

    add_fit_fusion_parser(sub)  # python -m eval fit-fusion: the retrieval fusion weights, chosen on fit data
    from eval.scale import add_scale_parser

    add_scale_parser(sub)  # python -m eval scale: build/update/query cost, memory and disk from 300 to 100,000 passages
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)  # on the handler: bm25s sets DEBUG on its own logger at import
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    return args.func(args)  # every subcommand's parser sets func


if __name__ == "__main__":
    sys.exit(main())
