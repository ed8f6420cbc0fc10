"""OpenInference LLM spans (Arize Phoenix's instrumentors, and what Phoenix adds to GenAI spans):
flattened attributes `llm.input_messages.N.message.*`, `llm.output_messages.N.message.*`,
`llm.model_name`, `llm.token_count.*`, `llm.tools.N.tool.json_schema`. Read by the otel format
when a span has no gen_ai.* messages. Spec: github.com/Arize-ai/openinference, semantic
conventions."""

from __future__ import annotations

from typing import Any

from curate.core.records import to_json
from curate.ingest.formats.messages import maybe_json

INPUT, OUTPUT = "llm.input_messages.", "llm.output_messages."


def indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """prefix.0.role, prefix.0.content, ... as a list of dicts by index (gaps closed)."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[len(prefix) :].partition(".")
        if index.isdigit():
            found.setdefault(int(index), {})[rest] = value
    return [found[i] for i in sorted(found)]


def is_llm_span(attrs: dict[str, Any]) -> bool:
    return attrs.get("openinference.span.kind") == "LLM" or any(
        k.startswith((INPUT, OUTPUT)) for k in attrs
    )


def _calls(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": call.get("tool_call.id"),
            "name": call.get("tool_call.function.name"),
            "arguments": to_json(call.get("tool_call.function.arguments")),
        }
        for call in indexed(message, "message.tool_calls.")
    ]


def _content(message: dict[str, Any]) -> str | None:
    """message.content, or the text parts of message.contents.N.message_content.*."""
    if message.get("message.content") is not None:
        return str(message["message.content"])
    texts = [
        str(part["message_content.text"])
        for part in indexed(message, "message.contents.")
        if part.get("message_content.text") is not None
    ]
    return "\n".join(texts) if texts else None


def _message(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": message.get("message.role") or "user",
        "content": _content(message),
        "name": message.get("message.name"),
        "tool_call_id": message.get("message.tool_call_id"),
        "tool_calls": _calls(message) or None,
    }


def openinference_call(attrs: dict[str, Any]) -> dict[str, Any]:
    """The messages, output, tool calls, finish reason, model, tokens and tools of an
    OpenInference LLM span (the last output message is the answer)."""
    outputs = indexed(attrs, OUTPUT)
    answer = outputs[-1] if outputs else {}
    tools = [maybe_json(t.get("tool.json_schema")) for t in indexed(attrs, "llm.tools.")]
    return {
        "messages": [_message(m) for m in indexed(attrs, INPUT)],
        "output": _content(answer) if answer else None,
        "tool_calls": _calls(answer) if answer else [],
        "finish_reason": answer.get("message.finish_reason") or attrs.get("llm.finish_reason"),
        "model": attrs.get("llm.model_name"),
        "prompt_tokens": attrs.get("llm.token_count.prompt"),
        "completion_tokens": attrs.get("llm.token_count.completion"),
        "tools": to_json(tools) if any(t is not None for t in tools) else None,
    }


# the raw request and response: the messages and output are read from them, and are long
RAW = ("input.value", "output.value", "input.mime_type", "output.mime_type")


def not_messages(key: str) -> bool:
    """Attributes kept in metadata: not the messages, read into the record's own fields."""
    return not key.startswith((INPUT, OUTPUT)) and key not in RAW
