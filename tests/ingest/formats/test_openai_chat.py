from __future__ import annotations

import json

import polars as pl

from curate.core.project import Project
from curate.ingest.formats.base import read_lines_frame
from curate.ingest.formats.exchange import exchanges_batch
from curate.ingest.formats.openai_chat import decode_exchange_lines
from curate.ingest.formats.streams import assemble_stream
from curate.ingest.stage import ingest_logs
from tests.conftest import chat_line, quarantine, records, write_jsonl


def test_request_beside_response(tmp_path, workspace):
    path = write_jsonl(
        tmp_path / "chat.jsonl",
        [
            chat_line(
                1,
                timestamp="2026-10-01T12:00:00Z",
                latency_ms=812.5,
                metadata={"left": {"name": "Bob"}},
            )
        ],
    )
    result = ingest_logs(Project(workspace), [path])
    assert result.ingested == 1
    row = records(workspace).row(0, named=True)
    assert row["source_format"] == "openai_chat"
    assert row["source_id"] == "chatcmpl-1"
    assert row["model"] == "gpt-4o-mini-2024-07-18"
    assert [m["role"] for m in row["messages"]] == ["system", "user"]
    assert row["messages"][1]["content"] == "pair 1"
    assert row["output"] == '{"decision": "match"}'
    assert row["finish_reason"] == "stop"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (20, 5)
    assert row["latency_ms"] == 812.5
    assert row["timestamp"].isoformat() == "2026-10-01T12:00:00+00:00"
    assert json.loads(row["metadata"]) == {"left": {"name": "Bob"}}
    assert row["prompt_version"].startswith("sys-")
    assert len(row["record_id"]) == 32


def test_flat_completion_with_messages_and_created_time(tmp_path, workspace):
    line = chat_line(2)
    flat = {**line["response"], "messages": line["request"]["messages"]}
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "flat.jsonl", [flat])])
    row = records(workspace).row(0, named=True)
    assert row["messages"][1]["content"] == "pair 2"
    assert row["timestamp"].timestamp() == 1_790_000_002


def test_same_system_prompt_same_prompt_version(tmp_path, workspace):
    rows = [chat_line(1), chat_line(2), chat_line(3, system="Another prompt.")]
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "c.jsonl", rows)])
    versions = records(workspace)["prompt_version"].to_list()
    assert versions[0] == versions[1] != versions[2]


def test_explicit_prompt_version_wins(tmp_path, workspace):
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1, prompt_version="matcher@7")])
    ingest_logs(Project(workspace), [path])
    assert records(workspace)["prompt_version"].to_list() == ["matcher@7"]


def test_content_parts_refusal_tool_calls_and_errors(tmp_path, workspace):
    parts = chat_line(1)
    parts["request"]["messages"][1]["content"] = [
        {"type": "text", "text": "compare"},
        {"type": "image_url", "image_url": {"url": "x"}},
    ]
    refused = chat_line(2, content=None)
    refused["response"]["choices"][0]["message"]["refusal"] = "I can't help with that."
    tools = chat_line(3, content=None, finish="tool_calls")
    tools["response"]["choices"][0]["message"]["tool_calls"] = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "lookup", "arguments": '{"q": 1}'},
        }
    ]
    tools["request"]["tools"] = [{"type": "function", "function": {"name": "lookup"}}]
    legacy = chat_line(4, content=None, finish="function_call")
    legacy["response"]["choices"][0]["message"]["function_call"] = {
        "name": "old",
        "arguments": "{}",
    }
    failed = {"request": parts["request"], "error": "Rate limit reached", "status_code": 429}
    path = write_jsonl(tmp_path / "c.jsonl", [parts, refused, tools, legacy, failed])
    result = ingest_logs(Project(workspace), [path])
    assert result.ingested == 5 and result.quarantined == 0
    rows = records(workspace).rows_by_key("source_line", named=True, unique=True)
    assert rows[1]["messages"][1]["content"] == "compare\n[image_url]"
    assert rows[2]["refusal"] == "I can't help with that." and rows[2]["output"] is None
    assert rows[3]["tool_calls"] == [{"id": "call_1", "name": "lookup", "arguments": '{"q": 1}'}]
    assert json.loads(rows[3]["tools"])[0]["function"]["name"] == "lookup"
    assert rows[4]["tool_calls"][0]["name"] == "old"
    assert rows[5]["error"] == "Rate limit reached" and rows[5]["status_code"] == 429


def test_multiple_choices_become_records(tmp_path, workspace):
    line = chat_line(1)
    second = {**line["response"]["choices"][0], "index": 1}
    second["message"] = {"role": "assistant", "content": "other"}
    line["response"]["choices"].append(second)
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "c.jsonl", [line, chat_line(2)])])
    got = records(workspace).select("source_id", "output").rows()
    assert ("chatcmpl-1#1", "other") in got and len(got) == 3


def test_streamed_chunk_lines_are_assembled(tmp_path, workspace):
    chunks = [
        {"id": "s1", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}]},
        {"id": "s1", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {"content": "lo"}}]},
        {"id": "s1", "object": "chat.completion.chunk", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
    ]  # fmt: skip
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "s.jsonl", chunks)])
    row = records(workspace).row(0, named=True)
    assert (row["source_id"], row["output"], row["finish_reason"]) == ("s1", "Hello", "length")


def test_response_as_list_of_chunks_with_tool_call_deltas():
    chunks = [
        {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "t1", "function": {"name": "get", "arguments": '{"a"'}}]}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}, "finish_reason": "tool_calls"}]},
    ]  # fmt: skip
    completion = assemble_stream(chunks)
    call = completion["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "get", "arguments": '{"a": 1}'} and call["id"] == "t1"
    assert completion["choices"][0]["finish_reason"] == "tool_calls"


def test_bad_lines_go_to_quarantine_and_the_rest_is_kept(tmp_path, workspace):
    rows = [chat_line(1), "{not json", chat_line(2), "", "[1, 2]", {"request": {}}, chat_line(3)]
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    result = ingest_logs(Project(workspace), [path])
    assert result.ingested == 3 and result.quarantined == 3
    q = quarantine(workspace)
    assert q["line"].to_list() == [2, 5, 6]
    reasons = q["reason"].to_list()
    assert reasons[0].startswith("not valid JSON")
    assert "expected a JSON object" in reasons[1]
    assert reasons[2].startswith("no response")
    assert q["raw"][0] == "{not json"
    assert records(workspace)["source_line"].to_list() == [1, 3, 7]


def test_bulk_decoder_agrees_with_python_path():
    """The bulk decoder (polars) and the Python path give the same records, line for line."""
    odd = chat_line(9)
    odd["response"]["choices"][0]["message"]["content"] = [{"type": "text", "text": "x"}]
    objs = [chat_line(i, metadata={"k": i}, feedback="thumbs_down") for i in range(5)] + [odd]
    lines = [json.dumps(obj) for obj in objs]
    series = read_lines_frame(("\n".join(lines) + "\n").encode())
    numbers = pl.int_range(1, series.len() + 1, eager=True)
    bulk = decode_exchange_lines(series, numbers, {}).records
    python = exchanges_batch(
        [(n, line, obj) for n, line, obj in zip(range(1, 7), lines, objs, strict=True)], []
    ).records
    assert bulk.equals(python)
    assert bulk["output"][-1] == "x"  # the odd line (content parts) read in Python
    assert json.loads(bulk["metadata"][4]) == {"k": 4}
    assert bulk["feedback_score"].to_list() == [0.0] * 5 + [None]


def test_feedback_shapes(tmp_path, workspace):
    rows = [
        chat_line(1, feedback={"score": 0, "comment": "wrong", "correction": "non_match"}),
        chat_line(2, feedback="thumbs_down"),
        chat_line(3, feedback=1),
    ]
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "f.jsonl", rows)])
    got = records(workspace).select("feedback_score", "feedback_comment", "correction").rows()
    assert got == [(0.0, "wrong", "non_match"), (0.0, None, None), (1.0, None, None)]


def test_logprobs_give_confidence(tmp_path, workspace):
    line = chat_line(1)
    line["response"]["choices"][0]["logprobs"] = {
        "content": [{"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -0.3}]
    }
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "c.jsonl", [line])])
    assert abs(records(workspace)["confidence"][0] - 0.8187307) < 1e-6


def _responses_object(i, output, status="completed", incomplete=None):
    return {
        "id": f"resp_{i}",
        "object": "response",
        "created_at": 1_790_000_000,
        "model": "gpt-4.1-mini",
        "status": status,
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "error": None,
        "output": output,
        "usage": {"input_tokens": 30, "output_tokens": 4},
    }


def test_responses_api_logs(tmp_path, workspace):
    request = {"model": "gpt-4.1-mini", "instructions": "Classify.", "input": "refund please"}
    text = [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "billing"}],
        }
    ]
    call = [{"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"id": 2}'}]
    refusal = [
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "refusal", "refusal": "I can't help."}],
        }
    ]
    lines = [
        {"request": request, "response": _responses_object(1, text)},
        {
            "request": {
                **request,
                "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            },
            "response": _responses_object(2, call),
        },
        {
            "request": request,
            "response": _responses_object(
                3, text[:0] + text, status="incomplete", incomplete="max_output_tokens"
            ),
        },
        {"request": request, "response": _responses_object(4, refusal)},
        chat_line(5),
    ]
    result = ingest_logs(Project(workspace), [write_jsonl(tmp_path / "r.jsonl", lines)])
    assert result.ingested == 5 and result.quarantined == 0
    got = {r["source_id"]: r for r in records(workspace).iter_rows(named=True)}
    first = got["resp_1"]
    assert [(m["role"], m["content"]) for m in first["messages"]] == [
        ("system", "Classify."),
        ("user", "refund please"),
    ]
    assert (first["output"], first["finish_reason"], first["prompt_tokens"]) == (
        "billing",
        "stop",
        30,
    )
    assert got["resp_2"]["tool_calls"] == [{"id": "c1", "name": "lookup", "arguments": '{"id": 2}'}]
    assert got["resp_2"]["messages"][-1]["content"] == "hi"
    assert got["resp_3"]["finish_reason"] == "length"
    assert got["resp_4"]["refusal"] == "I can't help." and got["resp_4"]["output"] is None
    assert got["chatcmpl-5"]["output"] == '{"decision": "match"}'


def test_epoch_timestamps(tmp_path, workspace):
    rows = [chat_line(1, timestamp=1_790_000_000), chat_line(2, timestamp="1790000000500")]
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "e.jsonl", rows)])
    stamps = [t.timestamp() for t in records(workspace)["timestamp"]]
    assert stamps == [1_790_000_000, 1_790_000_000.5]


def test_metadata_from_the_line_tail_equals_a_full_parse():
    """The fast top-level lookup (parsing only the line's tail) gives what a full parse gives,
    whatever the nesting, key order, duplicates in strings or non-ASCII text."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from curate.ingest.formats.openai_chat import _json_path_where

    value = st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=2)
            | st.dictionaries(st.sampled_from(["metadata", "a", "é"]), inner, max_size=2)
        ),
        max_leaves=6,
    )
    line = st.dictionaries(st.sampled_from(["metadata", "request", "x", "ü"]), value, max_size=4)

    @settings(max_examples=300, deadline=None, database=None)
    @given(st.lists(line, min_size=1, max_size=8))
    def check(objects):
        lines = pl.Series(
            "line", [json.dumps(o, ensure_ascii=bool(i % 2)) for i, o in enumerate(objects)]
        )
        fast = _json_path_where(lines, '"metadata"', ["$.metadata", "$.request.metadata"])
        full = lines.str.json_path_match("$.metadata")
        full = full.fill_null(lines.str.json_path_match("$.request.metadata"))
        assert fast.to_list() == full.to_list()

    check()
