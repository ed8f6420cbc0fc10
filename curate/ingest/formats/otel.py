"""OpenTelemetry GenAI spans as OTLP JSON: spans with gen_ai.* (or OpenInference llm.*)
attributes become records.

Reads an ExportTraceServiceRequest ({"resourceSpans": [...]}) per file or per line (what the
collector's file exporter writes). Messages come from the current attributes
`gen_ai.input.messages`, `gen_ai.output.messages`, `gen_ai.system_instructions`, or from the
deprecated indexed ones `gen_ai.prompt.N.*` / `gen_ai.completion.N.*`, or, on a span with none
of these, from OpenInference's `llm.input_messages.N.*` (curate/ingest/formats/openinference.py).
Other spans (an agent's, a tool's) are counted and skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

from curate.core.records import to_json
from curate.ingest.formats.base import (
    Batch,
    LogFormat,
    ReadContext,
    Sample,
    Source,
    read_items,
    rows_batch,
)
from curate.ingest.formats.messages import (
    maybe_json,
    normalize_finish,
    parts_text,
    read_messages,
    system_message,
)
from curate.ingest.formats.openinference import (
    indexed,
    is_llm_span,
    not_messages,
    openinference_call,
)


def any_value(value: Any) -> Any:
    """The Python value of an OTLP AnyValue ({"stringValue": ...}, {"arrayValue": ...}, ...)."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(items: Any) -> dict[str, Any]:
    return {
        a["key"]: any_value(a.get("value"))
        for a in items or []
        if isinstance(a, dict) and "key" in a
    }


def _seconds_ms(value: Any) -> float | None:
    return float(value) * 1000 if isinstance(value, int | float) and value >= 0 else None


def _otel_messages(value: Any) -> list[dict[str, Any]]:
    """Messages in the GenAI semconv shape ({role, parts: [{type, content}]}) or others."""
    value = maybe_json(value)
    if isinstance(value, list) and value and isinstance(value[0], dict) and "parts" in value[0]:
        value = [{"role": m.get("role"), "content": m.get("parts")} for m in value]
    return read_messages(value)


def _indexed_calls(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool calls of a flattened message: {"tool_calls.0.name": ...} (deeper indexes stay
    flat in the message)."""
    return [
        {"id": c.get("id"), "name": c.get("name"), "arguments": to_json(c.get("arguments"))}
        for c in indexed(item, "tool_calls.")
    ]


def _indexed_messages(attrs: dict[str, Any]):
    """(messages, output, tool calls, finish reason) of the older flattened attributes,
    gen_ai.prompt.N.* and gen_ai.completion.N.*."""
    messages = [
        {
            "role": item.get("role") or "user",
            "content": item.get("content"),
            "name": None,
            "tool_call_id": item.get("tool_call_id"),
            "tool_calls": _indexed_calls(item) or None,
        }
        for item in indexed(attrs, "gen_ai.prompt.")
    ]
    completions = indexed(attrs, "gen_ai.completion.")
    if not completions:
        return messages, None, [], None
    first = completions[0]
    return messages, first.get("content"), _indexed_calls(first), first.get("finish_reason")


def span_record(span: dict[str, Any], resource: dict[str, Any], number: int) -> dict[str, Any]:
    attrs = attributes(span.get("attributes"))
    system = maybe_json(attrs.get("gen_ai.system_instructions"))
    messages = []
    if system:
        text, _ = parts_text(system)
        messages.append(system_message(text))
    output_text, calls, finish = None, [], None
    oi: dict[str, Any] = {}  # an OpenInference span's own fields, where it has no gen_ai ones
    if "gen_ai.input.messages" in attrs or "gen_ai.output.messages" in attrs:
        messages += _otel_messages(attrs.get("gen_ai.input.messages"))
        outputs = maybe_json(attrs.get("gen_ai.output.messages"))
        if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
            first = outputs[0]
            output_text, calls = parts_text(first.get("parts", first.get("content")))
            finish = first.get("finish_reason")
    elif is_llm_span(attrs) and not any(k.startswith("gen_ai.prompt.") for k in attrs):
        oi = openinference_call(attrs)
        messages += oi["messages"]
        output_text, calls, finish = oi["output"], oi["tool_calls"], oi["finish_reason"]
    else:
        prompt, output_text, calls, finish = _indexed_messages(attrs)
        messages += prompt
    finish = finish or attrs.get("gen_ai.response.finish_reasons")
    status = span.get("status") or {}
    failed = status.get("code") in (2, "STATUS_CODE_ERROR", "ERROR")
    error = (status.get("message") or attrs.get("error.type") or "error") if failed else None
    start = span.get("startTimeUnixNano")
    end = span.get("endTimeUnixNano")
    latency = (int(end) - int(start)) / 1e6 if start and end else None
    known = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions")
    rest = {
        k: v
        for k, v in attrs.items()
        if k not in known
        and not k.startswith(("gen_ai.prompt.", "gen_ai.completion."))
        and not_messages(k)
    }
    return {
        "source_id": span.get("spanId"),
        "source_line": number,
        "timestamp": int(start) if start else None,
        "model": attrs.get("gen_ai.response.model")
        or attrs.get("gen_ai.request.model")
        or oi.get("model"),
        "messages": messages,
        "output": output_text,
        "tool_calls": calls,
        "tools": to_json(attrs.get("gen_ai.tool.definitions")) or oi.get("tools"),
        "finish_reason": normalize_finish(finish),
        "error": error,
        "prompt_tokens": attrs.get(
            "gen_ai.usage.input_tokens",
            attrs.get("gen_ai.usage.prompt_tokens", oi.get("prompt_tokens")),
        ),
        "completion_tokens": attrs.get(
            "gen_ai.usage.output_tokens",
            attrs.get("gen_ai.usage.completion_tokens", oi.get("completion_tokens")),
        ),
        "latency_ms": latency,
        "ttft_ms": _seconds_ms(
            attrs.get("gen_ai.response.time_to_first_chunk")
            or attrs.get("gen_ai.response.time_to_first_token")
        ),
        "metadata": to_json(
            {
                "trace_id": span.get("traceId"),
                "span_name": span.get("name"),
                "attributes": rest,
                "resource": resource or None,
            }
        ),
        "_raw": None,
    }


MODEL_CALL_KEYS = ("gen_ai.", "llm.input_messages.", "llm.output_messages.", "llm.model_name")


def _is_genai(span: dict[str, Any]) -> bool:
    """A model call: GenAI attributes, or OpenInference's LLM ones."""
    return any(
        isinstance(a, dict) and str(a.get("key", "")).startswith(MODEL_CALL_KEYS)
        for a in span.get("attributes") or []
    )


def _span_rows(
    resource_spans_list: list[Any], number: int
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The records of one export request's gen_ai spans, and what was skipped."""
    rows, skipped = [], Counter()
    for resource_spans in resource_spans_list:
        resource = attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope in resource_spans.get("scopeSpans") or []:
            for span in scope.get("spans") or []:
                if _is_genai(span):
                    rows.append(span_record(span, resource, number))
                else:
                    skipped["spans that are not model calls (no gen_ai.* or llm.* attributes)"] += 1
    return rows, skipped


class OTelGenAI(LogFormat):
    name: ClassVar[str] = "otel"
    priority: ClassVar[int] = 50
    expects: ClassVar[str] = (
        'OTLP JSON traces: {"resourceSpans": [{"scopeSpans": [{"spans": [...]}]}]} with gen_ai.* '
        "span attributes, or OpenInference llm.* ones (one document or one per line)"
    )

    def sniff(self, sample: Sample) -> bool:
        return any("resourceSpans" in obj for obj in sample.objects[:3])

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        return read_items(
            source,
            ctx,
            is_item=lambda item: (
                isinstance(item, dict) and isinstance(item.get("resourceSpans"), list)
            ),
            not_item="not OTLP JSON: no `resourceSpans` list",
            read_item=lambda number, raw, item: _span_rows(item["resourceSpans"], number),
            batch=rows_batch,
        )
