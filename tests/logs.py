"""Small logs in every format curate reads, written from one list of calls.

A call is a dict: id, user (input text, or None), system, output (None for an API error),
error, latency_ms, prompt_tokens, completion_tokens, timestamp (epoch seconds). Each writer
puts the same calls in its format, so one degenerate workspace can be tried in all of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TOPICS = ["billing", "technical", "other"]
CONFIG = """\
[tasks.topic]
kind = "classification"
labels = ["billing", "technical", "other"]

[tasks.topic.parse]
mode = "prefix"
"""


def calls(
    n: int,
    outputs: list[str | None] | None = None,
    *,
    latency: bool = True,
    usage: bool = True,
    versions: int = 2,
    inputs: bool = True,
) -> list[dict[str, Any]]:
    """n calls of the topic task; outputs cycle through `outputs` (None is an API error)."""
    outputs = outputs if outputs is not None else ["billing", "technical", "Topic: refunds?"]
    rows = []
    for i in range(n):
        output = outputs[i % len(outputs)]
        rows.append(
            {
                "id": f"call-{i}",
                "user": f"ticket {i}: my {['card', 'router', 'parcel'][i % 3]} #{i * 7919 % 1000}"
                if inputs
                else None,
                "system": f"Classify the ticket (prompt v{i % versions + 1}).",
                "output": output,
                "error": "rate limit exceeded" if output is None else None,
                "latency_ms": 200.0 + 3 * i if latency else None,
                "prompt_tokens": 40 + i % 17 if usage else None,
                "completion_tokens": 2 if usage else None,
                "timestamp": 1_790_000_000 + 3600 * i,
            }
        )
    return rows


def _messages(call: dict[str, Any]) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": call["system"]}]
    if call["user"] is not None:
        messages.append({"role": "user", "content": call["user"]})
    return messages


def _usage(call: dict[str, Any]) -> dict[str, int] | None:
    if call["prompt_tokens"] is None:
        return None
    return {"prompt_tokens": call["prompt_tokens"], "completion_tokens": call["completion_tokens"]}


def _completion(call: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"chatcmpl-{call['id']}",
        "object": "chat.completion",
        "created": call["timestamp"],
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": call["output"]},
                "finish_reason": "stop",
            }
        ],
    }
    if _usage(call):
        body["usage"] = _usage(call)
    return body


def openai_chat(call: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {"request": {"model": "gpt-4o-mini", "messages": _messages(call)}}
    if call["output"] is None:
        line["error"] = {"message": call["error"], "code": 429}
        line["response"] = None
    else:
        line["response"] = _completion(call)
    if call["latency_ms"] is not None:
        line["latency_ms"] = call["latency_ms"]
    return line


def batch_output(call: dict[str, Any]) -> dict[str, Any]:
    if call["output"] is None:
        return {
            "id": f"batch_req_{call['id']}",
            "custom_id": call["id"],
            "response": {"status_code": 429, "body": {"error": {"message": call["error"]}}},
            "error": None,
        }
    return {
        "id": f"batch_req_{call['id']}",
        "custom_id": call["id"],
        "response": {"status_code": 200, "body": _completion(call)},
        "error": None,
    }


def batch_input(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "custom_id": call["id"],
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": _messages(call)},
    }


def langfuse(call: dict[str, Any]) -> dict[str, Any]:
    start = call["timestamp"]
    generation = {
        "id": f"gen-{call['id']}",
        "traceId": f"tr-{call['id']}",
        "type": "GENERATION",
        "startTime": f"2026-10-01T10:{start % 60:02d}:00.000Z",
        "model": "gpt-4o-mini",
        "input": _messages(call),
        "output": None
        if call["output"] is None
        else {"role": "assistant", "content": call["output"]},
        "level": "ERROR" if call["output"] is None else "DEFAULT",
        "statusMessage": call["error"],
    }
    if call["prompt_tokens"] is not None:
        generation["usageDetails"] = {"input": call["prompt_tokens"], "output": 2}
    if call["latency_ms"] is not None:
        generation["latency"] = call["latency_ms"] / 1000
    return {
        "trace": {"id": f"tr-{call['id']}", "name": "topic", "timestamp": "2026-10-01T10:00:00Z"},
        "observations": [generation],
    }


def langsmith(call: dict[str, Any]) -> dict[str, Any]:
    run: dict[str, Any] = {
        "id": f"run-{call['id']}",
        "name": "ChatOpenAI",
        "run_type": "llm",
        "start_time": "2026-10-01T10:00:00.000000",
        "inputs": {"messages": [_messages(call)]},
        "outputs": None
        if call["output"] is None
        else {
            "generations": [
                [{"text": call["output"], "generation_info": {"finish_reason": "stop"}}]
            ]
        },
        "extra": {"invocation_params": {"model": "gpt-4o-mini"}},
        "error": call["error"],
    }
    if call["latency_ms"] is not None:
        run["end_time"] = f"2026-10-01T10:00:0{min(int(call['latency_ms'] // 1000), 9)}.500000"
    if call["prompt_tokens"] is not None and run["outputs"]:
        run["outputs"]["llm_output"] = {"token_usage": _usage(call)}
    return run


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def otel(call: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.input.messages": json.dumps(
            [
                {"role": m["role"], "parts": [{"type": "text", "content": m["content"]}]}
                for m in _messages(call)
            ]
        ),
    }
    if call["output"] is not None:
        attrs["gen_ai.output.messages"] = json.dumps(
            [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": call["output"]}],
                    "finish_reason": "stop",
                }
            ]
        )
    if call["prompt_tokens"] is not None:
        attrs["gen_ai.usage.input_tokens"] = call["prompt_tokens"]
        attrs["gen_ai.usage.output_tokens"] = 2
    start = call["timestamp"] * 10**9
    end = start + int((call["latency_ms"] or 0) * 10**6)
    span = {
        "traceId": f"{call['id']:0>32}"[-32:],
        "spanId": f"{call['id']:0>16}"[-16:],
        "name": "chat gpt-4o-mini",
        "startTimeUnixNano": str(start),
        "attributes": [_attr(k, v) for k, v in attrs.items()],
        "status": {"code": 2, "message": call["error"]} if call["output"] is None else {"code": 1},
    }
    if call["latency_ms"] is not None:
        span["endTimeUnixNano"] = str(end)
    return {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}


def litellm(call: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": f"req-{call['id']}",
        "call_type": "acompletion",
        "status": "failure" if call["output"] is None else "success",
        "model": "gpt-4o-mini",
        "messages": _messages(call),
        "response": None if call["output"] is None else _completion(call),
        "error_str": call["error"],
        "response_cost": 0.0 if call["output"] is None else 0.0001,
        "hidden_params": {},
        "model_parameters": {"temperature": 0},
        "startTime": float(call["timestamp"]),
    }
    if call["latency_ms"] is not None:
        payload["endTime"] = call["timestamp"] + call["latency_ms"] / 1000
    if call["prompt_tokens"] is not None:
        payload |= {"prompt_tokens": call["prompt_tokens"], "completion_tokens": 2}
    return payload


def table(call: dict[str, Any]) -> dict[str, Any]:
    return {"question": call["user"], "answer": call["output"], "qid": call["id"]}


WRITERS = {
    "openai_chat": openai_chat,
    "openai_batch": batch_output,
    "langfuse": langfuse,
    "langsmith": langsmith,
    "otel": otel,
    "litellm": litellm,
    "table": table,
}
# every column of the table file mapped: nothing left over for metadata
TABLE_MAP = ["--map", "input=question", "--map", "output=answer", "--map", "id=qid"]


def write(
    folder: Path, fmt: str, rows: list[dict[str, Any]], with_input: bool = True
) -> list[Path]:
    """The calls as log files of format `fmt` in `folder` (Batch: output, and input if asked)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{fmt}.jsonl"
    path.write_text("".join(json.dumps(WRITERS[fmt](c)) + "\n" for c in rows))
    paths = [path]
    if fmt == "openai_batch" and with_input:
        requests = folder / "batch_input.jsonl"
        requests.write_text("".join(json.dumps(batch_input(c)) + "\n" for c in rows))
        paths.append(requests)
    return paths


def references(folder: Path, rows: list[dict[str, Any]], fmt: str, answer) -> Path:
    """A references file keyed on each format's native id: answer(call) -> label."""
    ids = {
        "openai_chat": lambda c: f"chatcmpl-{c['id']}",
        "openai_batch": lambda c: c["id"],
        "langfuse": lambda c: f"gen-{c['id']}",
        "langsmith": lambda c: f"run-{c['id']}",
        "otel": lambda c: f"{c['id']:0>16}"[-16:],
        "litellm": lambda c: f"req-{c['id']}",
        "table": lambda c: c["id"],
    }[fmt]
    path = folder / "references.csv"
    path.write_text("id,reference\n" + "".join(f"{ids(c)},{answer(c)}\n" for c in rows))
    return path
