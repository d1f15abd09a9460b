"""Cross-city comparison tables: a row per place, each filled cell cited and its numbers verified."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import assistant
from assistant.comparing import NOT_MENTIONED
from assistant.settings import PROJECT_ROOT, Settings
from assistant.text import match_normalize

pytestmark = pytest.mark.slow


def test_every_filled_cell_is_cited_and_verified(engine) -> None:
    table = assistant.compare("对小升规企业的奖励", ["温州市", "聊城市", "火星市"], engine=engine)
    by_place = {}
    for row in table.rows:
        by_place.setdefault(row.jurisdiction, []).append(row)
    assert set(by_place) == {"温州市", "聊城市", "火星市"}
    assert by_place["火星市"][0].text == NOT_MENTIONED and by_place["火星市"][0].citation is None
    for place, fact in (("温州市", "20万元"), ("聊城市", "10万元")):
        cited = [r for r in by_place[place] if r.citation]
        assert cited and all(r.numbers_verified for r in cited)
        assert any(fact in match_normalize(r.text) for r in cited)
        for r in cited:  # the cell's words are the cited passage's words
            assert match_normalize(r.text.strip("…")) in match_normalize(r.citation.text)
            assert place[:2] in r.citation.jurisdiction
    assert "| 温州市 |" in table.to_markdown()


def test_compare_cli_prints_json(corpus_index: Settings) -> None:
    env = {**os.environ, "POLICY_QA_INDEX_DIR": str(corpus_index.index_dir)}
    proc = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "compare", "政府采购预留给中小企业的份额",
         "--jurisdiction", "乐清市", "--jurisdiction", "朔州市", "--json"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(proc.stdout)["rows"]
    yueqing = [r for r in rows if r["jurisdiction"] == "乐清市" and r["citation"]]
    assert yueqing and any("40%" in r["text"] for r in yueqing)
