"""LiteLLM StandardLoggingPayload, one JSON object per line (what its loggers and callbacks get).

Keys used: id, call_type, model, messages, response (an OpenAI-shaped ModelResponse, or text),
status ("success" / "failure"), error_str, error_information, startTime / endTime (epoch
seconds), response_cost, prompt_tokens, completion_tokens, metadata, model_parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from curate.ingest.formats.base import (
    Batch,
    ItemRead,
    LogFormat,
    ReadContext,
    Sample,
    Source,
    read_items,
)
from curate.ingest.formats.exchange import exchanges_batch

NOT_COMPLETIONS = ("embedding", "aembedding", "image_generation", "moderation")


def _is_payload(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and "call_type" in obj
        and ("response_cost" in obj or "hidden_params" in obj or "model_parameters" in obj)
    )


def _iso(epoch: Any) -> str | None:
    if isinstance(epoch, int | float):
        try:
            return datetime.fromtimestamp(float(epoch), UTC).isoformat()
        except (OverflowError, OSError, ValueError):  # no date a log could have
            return None
    return epoch if isinstance(epoch, str) else None


def payload_exchange(payload: dict[str, Any]) -> dict[str, Any]:
    response = payload.get("response")
    if isinstance(response, str):  # text completions and some providers log plain text
        response = {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": response}}]
        }
    messages = payload.get("messages")
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    failed = payload.get("status") == "failure"
    info = payload.get("error_information") or {}
    error = payload.get("error_str") or info.get("error_message") if failed else None
    start, end = payload.get("startTime"), payload.get("endTime")
    first = payload.get("completionStartTime")
    latency = (
        (end - start) * 1000
        if isinstance(start, int | float) and isinstance(end, int | float)
        else None
    )
    # completionStartTime: the first token of a streamed call (the end, for one not streamed)
    ttft = (
        (first - start) * 1000
        if payload.get("stream")
        and isinstance(start, int | float)
        and isinstance(first, int | float)
        else None
    )
    metadata = dict(payload.get("metadata") or {})
    for key in (
        "trace_id",
        "call_type",
        "model_group",
        "custom_llm_provider",
        "request_tags",
        "cache_hit",
    ):
        if payload.get(key) is not None:
            metadata[key] = payload[key]
    return {
        "source_id": payload.get("id"),
        "request": {"model": payload.get("model"), "messages": messages},
        "response": response if isinstance(response, dict) else None,
        "model": payload.get("model"),
        "timestamp": _iso(start),
        "latency_ms": latency,
        "ttft_ms": ttft,
        "cost": payload.get("response_cost"),
        "error": {"message": error, "code": info.get("error_code")} if error else None,
        "status_code": _int(info.get("error_code")) if failed else None,
        "usage": {
            "prompt_tokens": payload.get("prompt_tokens"),
            "completion_tokens": payload.get("completion_tokens"),
        },
        "metadata": metadata or None,
        "tools": (payload.get("model_parameters") or {}).get("tools"),
    }


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class LiteLLM(LogFormat):
    name: ClassVar[str] = "litellm"
    priority: ClassVar[int] = 60
    expects: ClassVar[str] = (
        "LiteLLM StandardLoggingPayload lines: {id, call_type, model, messages, response, status, "
        "response_cost, ...}"
    )

    def sniff(self, sample: Sample) -> bool:
        return any(_is_payload(o) for o in sample.objects[:5])

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        def read_item(number: int, raw: str, item: dict[str, Any]) -> ItemRead:
            if item.get("call_type") in NOT_COMPLETIONS:
                return [], {f"{item['call_type']} calls (not chat or text completions)": 1}
            return [(number, raw, payload_exchange(item))], {}

        return read_items(
            source,
            ctx,
            is_item=_is_payload,
            not_item="not a LiteLLM StandardLoggingPayload (it has call_type and "
            "response_cost, hidden_params or model_parameters)",
            read_item=read_item,
            batch=exchanges_batch,
        )
