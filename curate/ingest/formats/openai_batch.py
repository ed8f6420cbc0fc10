"""OpenAI Batch API files: the output file, joined with its input file when that is given too.

Output lines: {"id", "custom_id", "response": {"status_code", "request_id", "body": {...}},
"error"}. Input lines: {"custom_id", "method", "url", "body": {"model", "messages", ...}}. Give
both to one `curate ingest` and each output gets its request's messages (joined on custom_id);
`source_id` is the custom_id, so `--references` files key on it.

A custom_id names a request, not a call: the same input file run through a second model gives
the same custom_ids. A record is one call, named by its response id (`response.body.id`), else by
the output line's `id`; a re-ingest of the same output file adds nothing, a second model's output
file adds its calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from curate.core.errors import InputError
from curate.ingest.formats.base import (
    Batch,
    ItemRead,
    LogFormat,
    Quarantined,
    ReadContext,
    Sample,
    Source,
    cut_raw,
    iter_json_items,
    read_items,
)
from curate.ingest.formats.exchange import exchanges_batch


def _is_output(obj: Any) -> bool:
    return isinstance(obj, dict) and "custom_id" in obj and ("response" in obj or "error" in obj)


def _is_input(obj: Any) -> bool:
    return isinstance(obj, dict) and "custom_id" in obj and "body" in obj and "response" not in obj


def read_batch_requests(
    source: Source, ctx: ReadContext
) -> tuple[dict[str, Any], list[Quarantined]]:
    """custom_id -> request body of a Batch input file, and the lines that could not be read."""
    requests: dict[str, Any] = {}
    bad: list[Quarantined] = []
    for number, raw, item in iter_json_items(source, ctx):
        if isinstance(item, Exception):
            bad.append(Quarantined(number, f"not valid JSON: {item}", cut_raw(raw)))
        elif not _is_input(item) or not isinstance(item.get("body"), dict):
            bad.append(
                Quarantined(number, "not a Batch input line (custom_id, body)", cut_raw(raw))
            )
        else:
            requests[str(item["custom_id"])] = item["body"]
    return requests, bad


def batch_exchange(item: dict[str, Any], request: dict[str, Any] | None) -> dict[str, Any]:
    response = item.get("response") if isinstance(item.get("response"), dict) else {}
    body = response.get("body")
    status = response.get("status_code")
    error = item.get("error") or (body.get("error") if isinstance(body, dict) else None)
    if error is None and isinstance(status, int) and status >= 400:
        error = f"HTTP {status}"
    return {
        "source_id": str(item["custom_id"]),
        "call_id": item.get("id"),  # the output line's own id, for calls with no response id
        "request": request,
        "response": body if isinstance(body, dict) else None,
        "status_code": status,
        "error": error,
        "metadata": (request or {}).get("metadata"),
    }


class OpenAIBatch(LogFormat):
    name: ClassVar[str] = "openai_batch"
    priority: ClassVar[int] = 20
    native_id: ClassVar[str] = "request"
    expects: ClassVar[str] = (
        "OpenAI Batch API output lines: {custom_id, response: {status_code, body}, error}"
    )

    def sniff(self, sample: Sample) -> bool:
        return any(_is_output(o) for o in sample.lines[:5])

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        unmatched = 0  # over the whole file

        def read_item(number: int, raw: str, item: dict[str, Any]) -> ItemRead:
            nonlocal unmatched
            request = ctx.batch_requests.get(str(item["custom_id"]))
            unmatched += request is None and bool(ctx.batch_requests)
            return [(number, raw, batch_exchange(item, request))], {}

        def end(batch: Batch) -> None:
            if not ctx.batch_requests:
                batch.warnings.append(
                    f"{source.display}: no Batch input file given, so its records have no "
                    "request messages; pass the input file too (curate ingest OUTPUT INPUT)"
                )
            elif unmatched:
                batch.warnings.append(
                    f"{source.display}: {unmatched} outputs have a custom_id that is in no input "
                    "file; kept without their request messages"
                )

        return read_items(
            source,
            ctx,
            is_item=_is_output,
            not_item="not a Batch output line: needs `custom_id` and `response` or `error`",
            read_item=read_item,
            batch=exchanges_batch,
            end=end,
        )


class OpenAIBatchInput(LogFormat):
    """A Batch API input file: requests only, read to join with the output file."""

    name: ClassVar[str] = "openai_batch_input"
    priority: ClassVar[int] = 10
    expects: ClassVar[str] = (
        "OpenAI Batch API input lines: {custom_id, method, url, body}; give it with its output file"
    )

    completes: ClassVar[str | None] = "openai_batch"
    side_input: ClassVar[str] = (
        "an OpenAI Batch API input file (requests only); give its output file in the same "
        "command: curate ingest OUTPUT.jsonl INPUT.jsonl"
    )

    def sniff(self, sample: Sample) -> bool:
        lines = [o for o in sample.lines[:5] if isinstance(o, dict)]
        return bool(lines) and all(_is_input(o) for o in lines)

    def read_side(self, source: Source, ctx: ReadContext) -> tuple[int, list[Quarantined]]:
        requests, bad = read_batch_requests(source, ctx)
        ctx.batch_requests.update(requests)
        return len(requests), bad

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        raise InputError(
            f"{source.display} is an OpenAI Batch API input file (requests, no responses). Give "
            "it together with its output file: curate ingest OUTPUT.jsonl "
            f"{source.display}"
        )
