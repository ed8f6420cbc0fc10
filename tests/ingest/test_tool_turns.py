"""An assistant turn of the input that called tools keeps its calls, in every shape a log has
them (chat completions decoded in bulk or line by line, the Responses API's items, LangChain,
OTel's flattened attributes), and the record's ids stay what they were without them."""

from __future__ import annotations

import itertools
import json

import polars as pl

from curate.core.project import Project
from curate.core.records import RECORD_SCHEMA
from curate.core.workspace import Workspace
from curate.ingest.stage import ingest_logs
from tests.conftest import chat_line, records, write_jsonl

CALL = {
    "id": "c1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
}
KEPT = [{"id": "c1", "name": "get_weather", "arguments": '{"city": "Oslo"}'}]


def _agent_line(i: int, **extra) -> dict:
    line = chat_line(i, "It is 18C in Oslo.", **extra)
    line["request"]["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
    ]
    return line


def _turns(row) -> list[tuple]:
    return [(m["role"], m["content"], m["tool_calls"], m["tool_call_id"]) for m in row["messages"]]


def test_a_chat_log_keeps_the_tool_calls_of_its_input(tmp_path, workspace):
    # line 2 has its content as a parts list: the line-by-line path, not the bulk decoder
    parts = _agent_line(2)
    parts["request"]["messages"][1]["content"] = [{"type": "text", "text": "pair 2"}]
    path = write_jsonl(tmp_path / "agent.jsonl", [_agent_line(1), parts])
    assert ingest_logs(Project(workspace), [path]).ingested == 2
    for row in records(workspace).iter_rows(named=True):
        assert _turns(row)[2:] == [("assistant", None, KEPT, None), ("tool", "18C", None, "c1")]
        assert row["output"] == "It is 18C in Oslo." and row["tool_calls"] in (None, [])


def test_the_calls_do_not_change_a_records_ids(tmp_path, workspace):
    """record_id and input_hash do not read the calls: a workspace ingested before they were
    kept has the same ids as one ingested after."""
    plain = chat_line(1, "It is 18C in Oslo.")
    plain["request"]["messages"] += [
        {"role": "assistant", "content": None},
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_jsonl(tmp_path / "a" / "x.jsonl", [_agent_line(1)])
    b = write_jsonl(tmp_path / "b" / "x.jsonl", [plain])

    ids = []
    for path in (a, b):
        ws = Workspace(path.parent / ".curate")
        ingest_logs(Project(ws), [path])
        ids.append(records(ws).select("record_id", "input_hash").row(0))
    assert ids[0] == ids[1]


def test_responses_api_call_items_become_one_assistant_turn(tmp_path, workspace):
    """The Responses API logs each of parallel calls as an item of its own: one turn."""
    items = [
        {"role": "user", "content": "weather in Oslo and Rome?"},
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        },
        {
            "type": "function_call",
            "call_id": "c2",
            "name": "get_weather",
            "arguments": '{"city": "Rome"}',
        },
        {"type": "function_call_output", "call_id": "c1", "output": "18C"},
        {"type": "function_call_output", "call_id": "c2", "output": "25C"},
    ]
    response = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1_790_000_000,
        "model": "gpt-4.1-mini",
        "status": "completed",
        "output": [
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "18C and 25C"}],
            }
        ],
        "usage": {"input_tokens": 30, "output_tokens": 4},
    }
    line = {"request": {"model": "gpt-4.1-mini", "input": items}, "response": response}
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "r.jsonl", [line])])
    (row,) = records(workspace).iter_rows(named=True)
    turns = _turns(row)
    assert [t[0] for t in turns] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in turns[1][2]] == ["c1", "c2"]
    assert [(t[1], t[3]) for t in turns[2:]] == [("18C", "c1"), ("25C", "c2")]


def test_otel_flattened_prompt_attributes_keep_their_calls(tmp_path, workspace):
    from tests.ingest.formats.test_otel import _otlp, _span

    span = _span(
        "s1",
        {
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "weather in Oslo?",
            "gen_ai.prompt.1.role": "assistant",
            "gen_ai.prompt.1.tool_calls.0.id": "c1",
            "gen_ai.prompt.1.tool_calls.0.name": "get_weather",
            "gen_ai.prompt.1.tool_calls.0.arguments": '{"city": "Oslo"}',
            "gen_ai.prompt.2.role": "tool",
            "gen_ai.prompt.2.tool_call_id": "c1",
            "gen_ai.prompt.2.content": "18C",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "18C in Oslo",
        },
    )
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(_otlp([span])))
    ingest_logs(Project(workspace), [path])
    (row,) = records(workspace).iter_rows(named=True)
    assert _turns(row) == [
        ("user", "weather in Oslo?", None, None),
        ("assistant", None, KEPT, None),
        ("tool", "18C", None, "c1"),
    ]


def test_a_langfuse_agent_trace_keeps_the_call_before_the_tool_turn(shared_data, workspace):
    """Real exports (LangGraph, the OpenAI Agents SDK): the second generation's input holds the
    first one's tool call, then the tool's answer to it."""
    folder = shared_data / "langfuse_trace_exports"
    paths = [folder / "langgraph-python-2025-08-22.trace.json"]
    paths.append(folder / "openai-agents-2025-09-30.trace.json")
    ingest_logs(Project(workspace), paths)
    found = 0
    for row in records(workspace).iter_rows(named=True):
        turns = row["messages"]
        for before, after in itertools.pairwise(turns):
            if after["role"] == "tool" and after["tool_call_id"]:
                assert before["role"] == "assistant" and before["tool_calls"]
                assert after["tool_call_id"] in {c["id"] for c in before["tool_calls"]}
                found += 1
    assert found == 2  # one agent step in each trace


def test_parts_written_before_the_calls_were_kept_read_in_the_new_schema(tmp_path, workspace):
    """A workspace's older record parts have messages without tool_calls: they read, beside new
    parts, as turns without calls."""
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "new.jsonl", [_agent_line(1)])])
    new = records(workspace)
    before = ("role", "content", "name", "tool_call_id")  # the message of curate 0.1.0
    old = new.with_columns(
        pl.lit("old").alias("record_id"),
        pl.col("messages").list.eval(pl.struct(*(pl.element().struct.field(f) for f in before))),
    )
    assert "tool_calls" not in old.schema["messages"].inner.to_schema()
    old.write_parquet(workspace.table_dir("records") / "part-0000-old.parquet")
    both = workspace.scan_records().collect()
    assert both.height == 2 and both.schema["messages"] == RECORD_SCHEMA["messages"]
    kept = dict(zip(both["record_id"], both["messages"].to_list(), strict=True))
    assert (
        kept["old"][2]["tool_calls"] is None and kept[new["record_id"][0]][2]["tool_calls"] == KEPT
    )
