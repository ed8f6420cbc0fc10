from __future__ import annotations

import json

from curate.core.project import Project
from curate.ingest.stage import ingest_logs
from tests.conftest import records


def _attr(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, list):
        return {
            "key": key,
            "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}},
        }
    return {"key": key, "value": {"stringValue": value}}


def _otlp(spans):
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", "matcher")]},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
        ]
    }


def _span(span_id, attrs, status=None):
    return {
        "traceId": "t" * 32,
        "spanId": span_id,
        "name": "chat gpt-4o",
        "startTimeUnixNano": "1790000000000000000",
        "endTimeUnixNano": "1790000000750000000",
        "attributes": [_attr(k, v) for k, v in attrs.items()],
        "status": status or {"code": 1},
    }


def test_current_and_deprecated_genai_attributes(tmp_path, workspace):
    current = _span(
        "s1",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "weather?"}]}]
            ),
            "gen_ai.output.messages": json.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [
                            {
                                "type": "tool_call",
                                "id": "c1",
                                "name": "weather",
                                "arguments": {"city": "Oslo"},
                            }
                        ],
                        "finish_reason": "tool_call",
                    }
                ]
            ),
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 7,
        },
    )
    deprecated = _span(
        "s2",
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-3.5-turbo",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Classify.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "refund please",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "billing",
            "gen_ai.completion.0.finish_reason": "length",
            "gen_ai.completion.0.tool_calls.0.name": "lookup",
            "gen_ai.completion.0.tool_calls.0.arguments": '{"id": 3}',
        },
    )
    failed = _span(
        "s3",
        {"gen_ai.request.model": "gpt-4o", "error.type": "RateLimitError"},
        status={"code": 2, "message": "429 Too Many Requests"},
    )
    http = {
        "traceId": "t",
        "spanId": "h",
        "name": "GET /",
        "attributes": [_attr("http.method", "GET")],
    }
    path = tmp_path / "spans.json"
    path.write_text(json.dumps(_otlp([current, deprecated, failed, http])))
    result = ingest_logs(Project(workspace), [path])
    assert result.ingested == 3
    assert result.skipped == {"spans that are not model calls (no gen_ai.* or llm.* attributes)": 1}
    got = {r["source_id"]: r for r in records(workspace).iter_rows(named=True)}
    s1, s2, s3 = got["s1"], got["s2"], got["s3"]
    assert [(m["role"], m["content"]) for m in s1["messages"]] == [
        ("system", "Be brief."),
        ("user", "weather?"),
    ]
    assert s1["tool_calls"] == [{"id": "c1", "name": "weather", "arguments": '{"city":"Oslo"}'}]
    assert s1["model"] == "gpt-4o-2024-08-06" and s1["prompt_tokens"] == 12
    assert s1["latency_ms"] == 750 and s1["timestamp"].timestamp() == 1_790_000_000
    assert [m["content"] for m in s2["messages"]] == ["Classify.", "refund please"]
    assert s2["output"] == "billing" and s2["finish_reason"] == "length"
    assert s2["tool_calls"] == [{"id": None, "name": "lookup", "arguments": '{"id": 3}'}]
    assert s3["error"] == "429 Too Many Requests"


def test_one_export_request_per_line(tmp_path, workspace):
    span = _span("a", {"gen_ai.request.model": "m", "gen_ai.completion.0.content": "ok"})
    path = tmp_path / "spans.jsonl"
    path.write_text(
        json.dumps(_otlp([span])) + "\n" + json.dumps(_otlp([{**span, "spanId": "b"}])) + "\n"
    )
    assert ingest_logs(Project(workspace), [path]).ingested == 2


def test_openinference_llm_spans(tmp_path, workspace):
    """Phoenix's instrumentors write OpenInference attributes, not gen_ai.* ones: messages with
    parts and tool calls, the model, tokens and tools are read from them."""
    span = _span(
        "oi1",
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "gpt-4o-2024-08-06",
            "llm.input_messages.0.message.role": "system",
            "llm.input_messages.0.message.content": "Route the ticket.",
            "llm.input_messages.1.message.role": "user",
            "llm.input_messages.1.message.contents.0.message_content.type": "text",
            "llm.input_messages.1.message.contents.0.message_content.text": "Where is my parcel?",
            "llm.input_messages.2.message.role": "tool",
            "llm.input_messages.2.message.tool_call_id": "call_9",
            "llm.input_messages.2.message.content": '{"status": "lost"}',
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_10",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "refund",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"order": 7}',
            "llm.token_count.prompt": 31,
            "llm.token_count.completion": 9,
            "llm.tools.0.tool.json_schema": '{"type": "function", "function": {"name": "refund"}}',
            "input.value": '{"messages": ["long raw request"]}',
        },
    )
    chain = _span("c1", {"openinference.span.kind": "CHAIN", "input.value": "hi"})
    path = tmp_path / "oi.json"
    path.write_text(json.dumps(_otlp([span, chain])))
    result = ingest_logs(Project(workspace), [path])
    assert result.ingested == 1 and sum(result.skipped.values()) == 1
    (row,) = records(workspace).iter_rows(named=True)
    assert [(m["role"], m["content"]) for m in row["messages"]] == [
        ("system", "Route the ticket."),
        ("user", "Where is my parcel?"),
        ("tool", '{"status": "lost"}'),
    ]
    assert row["messages"][2]["tool_call_id"] == "call_9"
    assert row["output"] is None
    assert row["tool_calls"] == [{"id": "call_10", "name": "refund", "arguments": '{"order": 7}'}]
    assert (row["model"], row["prompt_tokens"], row["completion_tokens"]) == (
        "gpt-4o-2024-08-06",
        31,
        9,
    )
    assert json.loads(row["tools"]) == [{"type": "function", "function": {"name": "refund"}}]
    assert "input.value" not in row["metadata"] and "llm.input_messages" not in row["metadata"]
