"""The OpenAI-compatible /v1 API through real clients on loopback: the ``openai`` client and LlamaIndex's
``OpenAILike`` against the real engine (session ``corpus_index``, extractive answerer), the history store in
a temporary SQLite file; keys, rate limit, busy and timeout with fake engines.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import SecretStr

from assistant.settings import Settings
from assistant.storage import open_history
from tests.api_server import api_serving, fake_factory

QUESTION = "温州对首次小升规企业奖励多少？"
FIRST = "温州对新升规企业有什么奖励？"  # eval q133: its follow-up "那聊城呢？" is about 聊城's 10万元


def with_db(settings: Settings, folder: Path, **update: Any) -> Settings:
    return settings.model_copy(update={"database_url": SecretStr(f"sqlite:///{folder / 'history.sqlite3'}"), **update})


def client(url: str, key: str = "x") -> openai.OpenAI:
    return openai.OpenAI(base_url=url + "v1", api_key=key, max_retries=0, timeout=60)


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


@pytest.fixture(scope="module")
def real(corpus_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    settings = with_db(corpus_index, tmp_path_factory.mktemp("api-history"))
    with api_serving(settings) as url:
        yield url, settings


# -- the real engine through the openai client ------------------------------------------------------------


def test_plain_and_streaming_answers_carry_their_citations(real: tuple[str, Settings]) -> None:
    url, settings = real
    c = client(url)
    assert [m.id for m in c.models.list().data] == ["policy-qa"]
    done = c.chat.completions.create(model="policy-qa", messages=[user(QUESTION)])
    text = done.choices[0].message.content
    assert "20万元" in text and done.answerable is True and done.choices[0].message.answerable is True
    cites = done.citations
    assert markers(text) and markers(text) == {c["n"] for c in cites}
    assert done.choices[0].message.citations == cites
    for cite in cites:
        assert {"n", "title", "doc_number", "date", "section_path", "file", "start", "end", "quote", "text"} <= set(cite)
        assert cite["end"] > cite["start"] and cite["section_path"]

    chunks = list(c.chat.completions.create(model="policy-qa", messages=[user(QUESTION)], stream=True))
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert streamed == text and len(chunks) >= 3  # role, pieces, final
    final = chunks[-1]
    assert final.choices[0].finish_reason == "stop" and final.answerable is True
    assert {c["n"] for c in final.citations} == markers(streamed)
    assert all(getattr(ch, "citations", None) is None for ch in chunks[:-1])

    turn = open_history(settings).get_turn(done.id)  # recorded, with the build that answered
    from assistant.index.catalog import open_catalog

    assert turn is not None and turn.channel == "api" and turn.question == QUESTION and turn.answer == text
    assert turn.build_id == open_catalog(settings).build_id == done.system_fingerprint
    assert turn.answerer == "extractive" and turn.answerable and len(turn.citations) == len(cites)
    assert turn.owner is None and turn.timings["server_ms"] > 0 and turn.conversation_id.startswith("conv-")


def test_follow_up_is_read_from_the_messages(real: tuple[str, Settings]) -> None:
    url, settings = real
    c = client(url)
    first = c.chat.completions.create(model="policy-qa", messages=[user(FIRST)])
    history = [user(FIRST), {"role": "assistant", "content": first.choices[0].message.content}]
    for stream in (False, True):
        if stream:
            chunks = list(c.chat.completions.create(model="policy-qa", messages=[*history, user("那聊城呢？")], stream=True))
            text, cites = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices), chunks[-1].citations
        else:
            follow = c.chat.completions.create(model="policy-qa", messages=[*history, user("那聊城呢？")])
            text, cites = follow.choices[0].message.content, follow.citations
        assert "10万元" in text and markers(text) == {x["n"] for x in cites}
        assert any("聊城" in x["jurisdiction"] for x in cites), cites
    alone = c.chat.completions.create(model="policy-qa", messages=[user("那聊城呢？")])  # no history: no topic
    assert alone.choices[0].message.content != text
    turns = open_history(settings).conversation_turns(first.conversation_id)  # same first message, same id
    assert [t.question for t in turns] == [FIRST, "那聊城呢？", "那聊城呢？"]


@pytest.mark.parametrize("stream", [False, True])
def test_errors_have_openai_shape(real: tuple[str, Settings], stream: bool) -> None:
    url, _ = real
    c = client(url)
    cases: list[tuple[dict[str, Any], type[openai.APIStatusError], str, str]] = [
        ({"messages": [user("  \t ")]}, openai.BadRequestError, "invalid_question", "请输入问题"),
        ({"messages": [user("奖励"), {"role": "assistant", "content": "好"}]}, openai.BadRequestError, "invalid_messages", "最后一条"),
        ({"messages": [user("温州奖励" * 600)]}, openai.BadRequestError, "question_too_long", "问题过长"),
        ({"messages": [user(QUESTION)], "extra_body": {"filters": {"jurisdictions": ["火星市"]}}},
         openai.BadRequestError, "unknown_filter", "未知的地区筛选“火星市”"),
        ({"messages": [user(QUESTION)], "model": "gpt-4o"}, openai.NotFoundError, "model_not_found", "policy-qa"),
        ({"messages": [{"role": "robot", "content": "x"}]}, openai.BadRequestError, "invalid_body", "messages.0.role"),
    ]  # fmt: skip
    for kwargs, error, code, fragment in cases:
        with pytest.raises(error) as info:
            c.chat.completions.create(**{"model": "policy-qa", "stream": stream, **kwargs})
        body = info.value.body
        assert set(body) == {"message", "type", "param", "code"} and body["code"] == code, body
        assert fragment in body["message"] and "Traceback" not in body["message"], body


def test_bad_bodies_and_unknown_routes(real: tuple[str, Settings]) -> None:
    url, _ = real
    json_header = {"Content-Type": "application/json"}
    for raw, code in [(b"{not json", "invalid_body"), (b'{"messages": 5}', "invalid_body"), (b"{}", "invalid_body")]:
        r = httpx.post(url + "v1/chat/completions", content=raw, headers=json_header)
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    r = httpx.get(url + "v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"


def test_json_endpoints_mirror_the_python_api(real: tuple[str, Settings]) -> None:
    url, _ = real
    r = httpx.post(url + "v1/retrieve", json={"question": QUESTION, "top_k": 3}, timeout=60).json()
    assert len(r["data"]) == 3 and r["places"] == ["温州市"]
    assert {"title", "jurisdiction", "section", "start", "end"} <= set(r["data"][0]["metadata"])
    assert r["data"][0]["score"] >= r["data"][2]["score"]
    bad = httpx.post(url + "v1/retrieve", json={"question": QUESTION, "filters": {"documents": ["无此文件"]}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unknown_filter"
    table = httpx.post(url + "v1/compare", json={"topic": "温州、聊城对小升规企业分别怎么奖励？"}, timeout=60).json()
    assert {row["jurisdiction"] for row in table["rows"]} >= {"温州市", "聊城市"}
    found = httpx.post(url + "v1/match", json={"text": "乐清的一家制造业企业，120人，专精特新"}, timeout=60).json()
    assert found["location_path"].endswith("乐清市") and found["measures"]
    docs = httpx.get(url + "v1/documents").json()
    assert docs["data"] and {"doc_id", "title", "jurisdiction", "doc_number", "date"} <= set(docs["data"][0])


def test_llamaindex_openai_like_gets_the_cited_answer(real: tuple[str, Settings]) -> None:
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    url, _ = real
    llm = OpenAILike(model="policy-qa", api_base=url + "v1", api_key="x", is_chat_model=True, context_window=8000)
    chat = llm.chat([ChatMessage(role="user", content=QUESTION)])
    assert "20万元" in chat.message.content and markers(chat.message.content) == {1}
    done = llm.complete(QUESTION)
    assert done.text == chat.message.content


def test_feedback_is_stored_by_completion_id(real: tuple[str, Settings]) -> None:
    url, settings = real
    done = client(url).chat.completions.create(model="policy-qa", messages=[user(QUESTION)])
    body = {"id": done.id, "rating": "down", "reason": "数字不对", "comment": "应为20万元"}
    assert httpx.post(url + "v1/feedback", json=body).status_code == 200
    fb = open_history(settings).get_feedback(done.id)
    assert fb is not None and (fb.rating, fb.reason, fb.comment) == ("down", "数字不对", "应为20万元")
    r = httpx.post(url + "v1/feedback", json={"id": "chatcmpl-unknown", "rating": "up"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_completion_id"
    r = httpx.post(url + "v1/feedback", json={"id": done.id, "rating": "meh"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "rating"


# -- keys, rate limit, busy, timeout (fake engines: these are about the server, not the answers) ------------


@pytest.fixture
def fake_settings(tmp_path: Path) -> Settings:
    return with_db(Settings(index_dir=tmp_path / "index", answerer="extractive"), tmp_path)


def test_keys_are_required_checked_and_rate_limited(
    fake_settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = fake_settings.model_copy(update={"api_rate_limit_per_minute": 5})
    history = open_history(settings)
    alice, _ = history.create_key("alice")
    bob, _ = history.create_key("bob")
    carol, _ = history.create_key("carol")
    assert history.revoke_key("bob")
    monkeypatch.setattr(logging.getLogger("uvicorn.access"), "propagate", True)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.INFO, logger="uvicorn.access")  # a Gradio launch earlier in the process set WARNING
    with api_serving(settings, require_keys=True, engine_factory=fake_factory()) as url:
        for key, code in [("", "missing_api_key"), (bob, "invalid_api_key"), ("pqa-made-up-key", "invalid_api_key")]:
            r = httpx.get(url + "v1/models", headers={"Authorization": f"Bearer {key}"} if key else {})
            assert r.status_code == 401 and r.json()["error"]["code"] == code, r.text
        with pytest.raises(openai.AuthenticationError):
            client(url, bob).chat.completions.create(model="policy-qa", messages=[user(QUESTION)])
        done = client(url, alice).chat.completions.create(model="policy-qa", messages=[user(QUESTION)])
        assert done.choices[0].message.content == f"答：{QUESTION}[1]"
        assert history.get_turn(done.id).owner == "alice"
        for query in (f"api_key={alice}", f"q={alice}", f"access_token={alice}"):  # refused, even with a header
            for headers in ({}, {"Authorization": f"Bearer {alice}"}):
                r = httpx.get(f"{url}v1/models?{query}", headers=headers)
                assert r.status_code == 400 and r.json()["error"]["code"] == "key_in_query", r.text
        statuses = [httpx.get(url + "v1/models", headers={"Authorization": f"Bearer {carol}"}) for _ in range(6)]
        assert [r.status_code for r in statuses] == [200] * 5 + [429]
        assert statuses[-1].json()["error"]["type"] == "rate_limit_error" and statuses[-1].headers["Retry-After"]
        assert httpx.get(url + "v1/models", headers={"Authorization": f"Bearer {alice}"}).status_code == 200
        docs = httpx.get(url + "openapi.json").text
    access = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert any("/v1/models?[redacted]" in line for line in access), access
    client_side = ("httpx", "httpcore", "openai")  # the test's own client logs the URL it was given
    server_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(client_side))
    for secret in (alice, bob, carol):
        assert secret not in server_log and secret not in docs


def test_a_full_queue_answers_busy_at_once_and_every_accepted_request_is_answered(fake_settings: Settings) -> None:
    """Answers are held until the first 503 arrives: "busy" comes while every worker is still answering (at
    once, not after a slot frees), exactly ``api_workers`` answers run side by side, and every accepted request
    is answered once the gate opens."""
    from tests.api_server import Gate

    settings = fake_settings.model_copy(update={"api_workers": 4, "api_queue_size": 64, "request_timeout": 60.0})
    n = 200
    gate = Gate()

    async def fire(url: str) -> list[tuple[int, int, str]]:
        limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:

            async def one(i: int) -> tuple[int, int, str]:
                body = {"model": "policy-qa", "messages": [user(f"问题{i}")], "stream": i % 4 == 0}
                r = await http.post("v1/chat/completions", json=body)
                if r.status_code == 503:
                    gate.open()
                return i, r.status_code, r.text

            return await asyncio.gather(*(one(i) for i in range(n)))

    with api_serving(settings, engine_factory=fake_factory(30.0, gate)) as url:
        results = asyncio.run(asyncio.wait_for(fire(url), timeout=90))  # a hang, not a speed, fails here
        after = client(url).chat.completions.create(model="policy-qa", messages=[user("之后")])  # nothing leaked
    ok = [(i, text) for i, status, text in results if status == 200]
    busy = [text for _, status, text in results if status == 503]
    assert len(ok) + len(busy) == n, {status for _, status, _ in results}
    assert len(ok) >= 4 + 64 and busy, (len(ok), len(busy))
    assert gate.most == 4  # the workers answered side by side, never more than api_workers at once
    assert all('"code":"server_busy"' in t and "服务繁忙" in t for t in busy)
    for i, text in ok:
        assert f"问题{i}[1]" in text and (text.rstrip().endswith("data: [DONE]") if i % 4 == 0 else '"citations"' in text)
    assert after.choices[0].message.content == "答：之后[1]"


@pytest.mark.parametrize("stream", [False, True])
def test_the_time_budget_ends_a_slow_answer_with_504(fake_settings: Settings, stream: bool) -> None:
    """The 504 arrives while the answer is still being made (the client is not held until it ends); the
    abandoned answer then ends in the background and, never delivered, is not recorded."""
    from tests.api_server import FakeEngine

    settings = fake_settings.model_copy(update={"request_timeout": 0.3, "api_workers": 1, "api_queue_size": 1})
    slow = FakeEngine(30.0)  # held until the test opens its gate, long after the 0.3 s budget
    with api_serving(settings, engine_factory=lambda settings=None, filters=None: slow) as url:
        with pytest.raises(openai.APIStatusError) as info:
            client(url).chat.completions.create(model="policy-qa", messages=[user(QUESTION)], stream=stream)
        assert not slow.finished.is_set()  # answered while the answer was still being made
        slow.gate.open()
        assert slow.finished.wait(10)  # the abandoned answer ends in the background ...
    assert info.value.status_code == 504 and info.value.body["code"] == "timeout"
    assert "处理超时" in info.value.body["message"]
    assert open_history(settings).list_conversations() == []  # ... and, never delivered, is not recorded


def test_the_api_through_the_whole_server(fake_settings: Settings) -> None:
    from assistant.server import serving

    with serving(fake_settings, chat_engine_factory=fake_factory(), documents=[]) as url:
        c = client(url)
        done = c.chat.completions.create(model="policy-qa", messages=[user(QUESTION)])
        chunks = list(c.chat.completions.create(model="policy-qa", messages=[user(QUESTION)], stream=True))
        too_big = httpx.post(url + "v1/chat/completions", json={"messages": [user("温" * fake_settings.max_request_bytes)]})
        spec = httpx.get(url + "openapi.json").json()
        ui = httpx.get(url)
    assert done.choices[0].message.content == f"答：{QUESTION}[1]" and done.citations[0]["doc_number"] == "测发〔2024〕1号"
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices) == f"答：{QUESTION}[1]"
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "request_too_large"
    assert {"/v1/chat/completions", "/v1/feedback", "/v1/retrieve"} <= set(spec["paths"]) and ui.status_code == 200
    assert open_history(fake_settings).get_turn(done.id).channel == "api"


@pytest.mark.slow
def test_answers_stay_identical_while_reindexing(small_settings: Settings, tmp_path: Path) -> None:
    import threading

    from assistant.index.build import update_index

    settings = with_db(small_settings, tmp_path)
    update_index(settings, progress=False)
    question = [user("甲市对首次升规的企业奖励多少？")]
    errors: list[BaseException] = []

    def rebuild() -> None:
        try:
            for _ in range(3):  # the third build garbage-collects the first
                update_index(settings.model_copy(), rebuild=True, progress=False)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    with api_serving(settings) as url:
        c = client(url)
        reference = c.chat.completions.create(model="policy-qa", messages=question)
        worker = threading.Thread(target=rebuild, name="reindex")
        worker.start()
        answers = []
        try:
            while worker.is_alive() or not answers:
                answers.append(c.chat.completions.create(model="policy-qa", messages=question))
        finally:
            worker.join(timeout=300)
        answers.append(c.chat.completions.create(model="policy-qa", messages=question))
    assert not errors and len(answers) >= 2
    text = reference.choices[0].message.content
    assert "20万元" in text and all(a.choices[0].message.content == text for a in answers)
    assert answers[-1].system_fingerprint != reference.system_fingerprint  # later requests use the new build


@pytest.mark.slow
def test_short_load_through_the_api(real: tuple[str, Settings]) -> None:
    from eval.load import run_load

    url, settings = real
    result = run_load(url, target="api", settings=settings, conversations=4, questions_per=3, distinct=6, timeout_s=300)
    summary = result.summary()
    assert summary["total_requests"] == 12 and summary["errors"] == 0, summary["error_samples"]
    assert result.all_identical and result.ok and summary["target"] == "api"
