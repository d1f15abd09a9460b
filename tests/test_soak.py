"""The soak (``python -m eval soak``): its plan and summary, and a small soak against the real app on loopback.

The small soak sends every hostile input of the hardening issue once (findings 1, 2, 6-10: long and junk
inputs, outside Markdown, deep links, export files, spreadsheet formulas, wrong logins, a foreign Host, a
cross-origin upload, 1 MB questions and 30 MB bodies) among normal questions and 政策找人 runs, through the UI
(with a password) and /v1. Latency is reported by the soak, never asserted here.
"""

from __future__ import annotations

import pytest

from assistant.settings import Settings
from eval.soak import HOSTILE, plan, run_soak, summarize
from eval.soak_requests import MATCH_EVERY

MB = 1_048_576
EXPORT_KEEP = 3


@pytest.mark.parametrize(("total", "hostile"), [(200, 50), (24, 8), (10, 0), (5, 5), (1, 1)])
def test_plan_spreads_hostile_requests_and_mixes_normal_ones(total: int, hostile: int) -> None:
    items = plan(total, hostile)
    groups = [group for group, *_ in items]
    assert len(items) == total and groups.count("hostile") == hostile
    sent = [name for group, name, *_ in items if group == "hostile"]
    assert sent == [name for name, *_ in HOSTILE * (hostile // len(HOSTILE) + 1)][:hostile]  # every kind in turn
    if 0 < hostile < total:  # spread out, not bunched at one end
        first = groups.index("hostile")
        assert first < total // hostile + 1 and "hostile" in groups[total // 2 :]
    normal = [name for group, name, *_ in items if group == "normal"]
    assert normal.count("ui-chat") - normal.count("api-chat") in (0, 1)  # chat questions: half UI, half /v1
    assert normal.count("ui-match") + normal.count("api-match") == len(normal) // MATCH_EVERY


@pytest.mark.parametrize(("total", "hostile"), [(0, 0), (10, 11), (10, -1)])
def test_plan_refuses_impossible_counts(total: int, hostile: int) -> None:
    with pytest.raises(ValueError, match="--hostile"):
        plan(total, hostile)


def test_bad_options_exit_2_before_any_server(capsys: pytest.CaptureFixture[str]) -> None:
    from eval.__main__ import main

    assert main(["soak", "--requests", "10", "--hostile", "20"]) == 2
    assert main(["soak", "--export-keep", "0"]) == 2
    assert "error:" in capsys.readouterr().err


def _record(i: int, group: str, latency: float, ok: bool = True, name: str = "ui-chat") -> dict:
    return {"index": i, "group": group, "name": name, "latency_s": latency, "ok": ok, "outcome": "x"}


def test_summary_counts_only_successful_normal_requests_in_latency() -> None:
    records = [_record(i, "normal", 0.1 * (i + 1)) for i in range(20)]  # 0.1 .. 2.0 s
    records += [_record(20, "normal", 9.0, ok=False), _record(21, "hostile", 5.0, name="9:wrong-logins")]
    s = summarize(records, warm=[])
    assert (s["normal"], s["hostile"], s["over_1s"], s["max_s"]) == (21, 1, 10, 2.0)
    assert s["p50_s"] == pytest.approx(1.05) and s["p95_s"] == pytest.approx(1.905)
    assert s["normal_failed"] == ["#20 ui-chat: x"] and s["hostile_not_handled"] == [] and not s["ok"]
    hostile_missed = summarize([_record(0, "normal", 0.1), _record(1, "hostile", 0.1, ok=False)], warm=[])
    assert hostile_missed["hostile_not_handled"] and not hostile_missed["ok"]
    assert not summarize([_record(0, "normal", 0.1)], warm=[_record(-1, "warm-up", 3.0, ok=False)])["ok"]
    assert summarize([_record(0, "normal", 0.1)], warm=[])["ok"]


@pytest.mark.slow
def test_small_soak_handles_every_hostile_input(corpus_index: Settings) -> None:
    """Every hostile input once among 20 normal requests, 4 at a time, on the real index and the whole app."""
    settings = corpus_index.model_copy(update={"export_keep": EXPORT_KEEP})
    hostile = len(HOSTILE)
    result = run_soak(settings, requests=hostile + 20, hostile=hostile, concurrency=4, request_timeout_s=120)
    assert result["warmup_failed"] == [] and result["normal_failed"] == []
    assert result["hostile_not_handled"] == []
    sent = {r["name"] for r in result["records"] if r["group"] == "hostile"}
    assert sent == {name for name, *_ in HOSTILE}
    normal = {r["name"] for r in result["records"] if r["group"] == "normal"}
    assert normal == {"ui-chat", "api-chat", "ui-match", "api-match"}
    before, after = result["temp"]["before"], result["temp"]["after"]
    assert after["export_folders_since_start"] <= EXPORT_KEEP  # more runs with files than that: pruned
    assert after["exports_bytes"] <= before["exports_bytes"] + EXPORT_KEEP * 2 * MB
    assert after["policy_qa_entries"] <= before["policy_qa_entries"]  # nothing left in the temp dir itself
    assert result["ok"]
