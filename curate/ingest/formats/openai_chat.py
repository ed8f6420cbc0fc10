"""OpenAI chat completions logs: one JSON object per line with the request and the response.

Accepted line shapes (all may be mixed in one file, gzip or not):
- `{"request": {"messages": [...], "model": ..., "tools": [...]}, "response": {chat.completion}}`
- a chat.completion object with the request's `messages` beside it (`{"messages": [...], "id":
  ..., "choices": [...], "usage": ...}`)
- `response` (or `chunks`) as a list of `chat.completion.chunk` objects, or consecutive lines
  that are chunks of one completion: assembled into one record
- legacy `text_completion` objects (`choices[].text`, request `prompt`)
Beside them, optional keys a logger may add: `timestamp`, `latency_ms`, `ttft_ms` (time to the
first streamed token), `cost`, `status_code`,
`error`, `task`, `prompt_version`, `reference`, `feedback` ({score, comment, correction}, or a
number, or "thumbs_up"/"thumbs_down"), `metadata` (kept as JSON, e.g. an entity pair).

The common case is decoded by polars in bulk with a fixed schema; lines that do not fit it (text
parts lists, errors as strings, ...) are normalized in Python and decoded with the same schema, so
both paths give the same records.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import orjson
import polars as pl

from curate.core.errors import RowError
from curate.core.records import CALL_ID, RAW, coerce, to_json
from curate.ingest.formats.base import (
    JSON_SPACE,
    SHAPE_ERRORS,
    Batch,
    LogFormat,
    Quarantined,
    ReadContext,
    Sample,
    Source,
    cut_raw,
    ordered_map,
    parse_timestamps,
    read_lines_frame,
    shape_error,
)
from curate.ingest.formats.messages import read_messages, responses_output

_FUNCTION = pl.Struct({"name": pl.String, "arguments": pl.String})
_TOOL_CALL = pl.Struct({"id": pl.String, "type": pl.String, "function": _FUNCTION})
_MESSAGE = pl.Struct(
    {
        "role": pl.String,
        "content": pl.String,
        "name": pl.String,
        "tool_call_id": pl.String,
        "refusal": pl.String,
        "tool_calls": pl.List(_TOOL_CALL),
        "function_call": _FUNCTION,
    }
)
_CHOICE = pl.Struct(
    {
        "index": pl.Int64,
        "message": _MESSAGE,
        "text": pl.String,
        "finish_reason": pl.String,
        "logprobs": pl.Struct({"content": pl.List(pl.Struct({"logprob": pl.Float64}))}),
    }
)
_USAGE = pl.Struct({"prompt_tokens": pl.Int64, "completion_tokens": pl.Int64})
_ERROR = pl.Struct({"message": pl.String, "type": pl.String, "code": pl.String})
_RESPONSE_FIELDS = {
    "id": pl.String,
    "object": pl.String,
    "created": pl.Float64,
    "model": pl.String,
    "choices": pl.List(_CHOICE),
    "usage": _USAGE,
    "error": _ERROR,
}
# `input` is the Responses API's request; a row that has one takes the Python path
_REQUEST = pl.Struct(
    {"model": pl.String, "messages": pl.List(_MESSAGE), "prompt": pl.String, "input": pl.String}
)
_FEEDBACK = pl.Struct({"score": pl.Float64, "comment": pl.String, "correction": pl.String})

EXCHANGE = pl.Struct(
    {
        **_RESPONSE_FIELDS,
        "messages": pl.List(_MESSAGE),
        "prompt": pl.String,
        "request": _REQUEST,
        "response": pl.Struct(_RESPONSE_FIELDS),
        "source_id": pl.String,  # set by formats that wrap a completion (Batch custom_id, ...)
        "call_id": pl.String,  # ... with their own id of the call, when the response has none
        "timestamp": pl.String,
        "latency_ms": pl.Float64,
        "ttft_ms": pl.Float64,  # time to first token, for streamed calls
        "cost": pl.Float64,
        "status_code": pl.Int64,
        "task": pl.String,
        "prompt_version": pl.String,
        "reference": pl.String,
        "feedback": _FEEDBACK,
    }
)


THUMBS = {"thumbs_up": 1.0, "thumbs_down": 0.0, "up": 1.0, "down": 0.0, "👍": 1.0, "👎": 0.0}


# -- Python normalization of irregular lines ---------------------------------------------------


def content_text(content: Any) -> str | None:
    """Message content as text: a string as is, a list of parts joined (text parts only)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, dict):  # Responses-style {"text": {"value": ...}}
                    text = text.get("value")
                if isinstance(text, str):
                    texts.append(text)
                elif part.get("type"):
                    texts.append(f"[{part['type']}]")
        return "\n".join(texts)
    return orjson.dumps(content).decode()


def _fix_messages(messages: Any) -> None:
    if isinstance(messages, list):
        for message in messages:
            if isinstance(message, dict) and "content" in message:
                message["content"] = content_text(message["content"])


def _fix_response(response: Any) -> None:
    if not isinstance(response, dict):
        return
    if isinstance(response.get("error"), str):
        response["error"] = {"message": response["error"]}
    if "choices" in response:  # only objects are choices; anything else in the list is junk
        choices = response["choices"]
        response["choices"] = (
            [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else None
        )
    for choice in response.get("choices") or []:
        if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
            message = choice["message"]
            message["content"] = content_text(message.get("content"))


def assemble_stream(chunks: list[Any]) -> dict[str, Any]:
    """One chat.completion from its streamed chat.completion.chunk objects."""
    completion: dict[str, Any] = {"object": "chat.completion", "choices": []}
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        for key in ("id", "model", "created"):
            if chunk.get(key) is not None and key not in completion:
                completion[key] = chunk[key]
        if chunk.get("usage"):
            completion["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or []:
            index = choice.get("index", 0)
            slot = choices.setdefault(
                index, {"index": index, "text": [], "tools": {}, "refusal": [], "finish": None}
            )
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                slot["text"].append(delta["content"])
            if isinstance(choice.get("text"), str):  # streamed legacy completions
                slot["text"].append(choice["text"])
            if isinstance(delta.get("refusal"), str):
                slot["refusal"].append(delta["refusal"])
            for call in delta.get("tool_calls") or []:
                tool = slot["tools"].setdefault(
                    call.get("index", 0), {"id": None, "type": "function", "name": "", "args": []}
                )
                tool["id"] = call.get("id") or tool["id"]
                function = call.get("function") or {}
                tool["name"] += function.get("name") or ""
                tool["args"].append(function.get("arguments") or "")
            if choice.get("finish_reason"):
                slot["finish"] = choice["finish_reason"]
    for index in sorted(choices):
        slot = choices[index]
        tool_calls = [
            {
                "id": t["id"],
                "type": t["type"],
                "function": {"name": t["name"], "arguments": "".join(t["args"])},
            }
            for _, t in sorted(slot["tools"].items())
        ]
        message = {
            "role": "assistant",
            "content": "".join(slot["text"]) if slot["text"] else None,
            "refusal": "".join(slot["refusal"]) if slot["refusal"] else None,
            "tool_calls": tool_calls or None,
        }
        completion["choices"].append(
            {"index": index, "message": message, "finish_reason": slot["finish"]}
        )
    return completion


def responses_to_completion(response: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI Responses API `response` object as the chat.completion it amounts to."""
    text, calls, finish = responses_output(response)
    refusals = [
        part.get("refusal")
        for item in response.get("output") or []
        if isinstance(item, dict) and item.get("type") == "message"
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == "refusal"
    ]
    if refusals:
        text = text if text and text != "[refusal]" else None
    usage = response.get("usage") or {}
    message = {
        "role": "assistant",
        "content": text,
        "refusal": "\n".join(r for r in refusals if r) or None,
        "tool_calls": [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in calls
        ]
        or None,
    }
    completion = {
        "id": response.get("id"),
        "created": response.get("created_at"),
        "model": response.get("model"),
        "usage": {
            "prompt_tokens": usage.get("input_tokens"),
            "completion_tokens": usage.get("output_tokens"),
        },
        "error": response.get("error"),
    }
    if response.get("status") != "failed" or response.get("output"):
        completion["choices"] = [{"index": 0, "message": message, "finish_reason": finish}]
    return completion


def _responses_request(request: dict[str, Any]) -> dict[str, Any]:
    """A Responses API request's `instructions` and `input` as chat messages."""
    messages = read_messages(request.get("input"))
    if request.get("instructions"):
        messages.insert(0, {"role": "system", "content": request["instructions"]})
    return {**request, "messages": messages, "input": None}


def normalize_exchange(obj: Any) -> dict[str, Any]:
    """Fit one decoded log line to the EXCHANGE schema; RowError when it cannot be a record."""
    if not isinstance(obj, dict):
        raise RowError(f"expected a JSON object, found a JSON {type(obj).__name__}")
    obj = dict(obj)
    if obj.get("object") == "response" and "response" not in obj:  # a bare Responses object
        obj = {
            "response": obj,
            "request": {"input": obj.get("input"), "instructions": obj.get("instructions")},
        }
    if isinstance(obj.get("response"), dict) and obj["response"].get("object") == "response":
        obj["response"] = responses_to_completion(obj["response"])
    if (
        isinstance(obj.get("request"), dict)
        and "input" in obj["request"]
        and not obj["request"].get("messages")
    ):
        obj["request"] = _responses_request(obj["request"])
    response = obj.get("response")
    if isinstance(response, list):
        obj["response"] = assemble_stream(response)
    elif response is None and isinstance(obj.get("chunks"), list):
        obj["response"] = assemble_stream(obj["chunks"])
    elif isinstance(response, dict) and isinstance(response.get("body"), dict):
        obj["response"] = response["body"]  # {"status_code": ..., "body": {...}} wrappers
        obj.setdefault("status_code", response.get("status_code"))
    if isinstance(obj.get("error"), str):
        obj["error"] = {"message": obj["error"]}
    _fix_response(obj)
    _fix_response(obj.get("response"))
    _fix_messages(obj.get("messages"))
    if isinstance(obj.get("request"), dict):
        _fix_messages(obj["request"].get("messages"))
    feedback = obj.get("feedback")
    if isinstance(feedback, bool | int | float):
        obj["feedback"] = {"score": float(feedback)}
    elif isinstance(feedback, str):
        score = THUMBS.get(feedback.strip().lower())
        obj["feedback"] = {"score": score, "comment": None if score is not None else feedback}
    return coerce(obj, EXCHANGE)


# -- the vectorized mapping --------------------------------------------------------------------


def _messages(expr: pl.Expr) -> pl.Expr:
    return expr.list.eval(
        pl.struct(
            pl.element().struct.field("role"),
            pl.element().struct.field("content"),
            pl.element().struct.field("name"),
            pl.element().struct.field("tool_call_id"),
        )
    )


def exchanges_to_records(frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns from a frame with `x` (EXCHANGE structs), `line` and `source_line`."""
    x = pl.col("x")
    resp = x.struct.field("response")
    req = x.struct.field("request")

    def either(name: str) -> pl.Expr:
        return pl.coalesce(resp.struct.field(name), x.struct.field(name))

    # a choice has a message, a text or a finish_reason; other objects in the list are junk
    element = pl.element().struct
    real = (
        element.field("message").is_not_null()
        | element.field("text").is_not_null()
        | element.field("finish_reason").is_not_null()
    )
    frame = frame.with_columns(
        either("choices").list.eval(pl.element().filter(real)).alias("_choices")
    )
    if (frame["_choices"].list.len() > 1).any():
        # n > 1: each choice is a call's output of its own; ids get "#index" past the first.
        frame = frame.explode("_choices")
    else:
        frame = frame.with_columns(pl.col("_choices").list.first())
    choice = pl.col("_choices")
    message = choice.struct.field("message")
    index = choice.struct.field("index").fill_null(0)
    native_id = pl.coalesce(x.struct.field("source_id"), either("id"))
    # where the native id names the request (a Batch custom_id), the call is named by the
    # response's id, else by the wrapper's own id of it (a Batch line's id)
    call_id = pl.when(x.struct.field("source_id").is_not_null()).then(
        pl.coalesce(resp.struct.field("id"), x.struct.field("call_id"))
    )

    def numbered(value: pl.Expr) -> pl.Expr:
        return pl.when(index > 0).then(value + pl.lit("#") + index.cast(pl.String)).otherwise(value)

    error = either("error")
    prompt = pl.coalesce(req.struct.field("prompt"), x.struct.field("prompt"))
    messages = pl.coalesce(
        _messages(pl.coalesce(req.struct.field("messages"), x.struct.field("messages"))),
        pl.when(prompt.is_not_null()).then(
            pl.concat_list(
                pl.struct(role=pl.lit("user"), content=prompt, name=None, tool_call_id=None)
            )
        ),
    )
    tool_calls = message.struct.field("tool_calls").list.eval(
        pl.struct(
            id=pl.element().struct.field("id"),
            name=pl.element().struct.field("function").struct.field("name"),
            arguments=pl.element().struct.field("function").struct.field("arguments"),
        )
    )
    legacy_call = message.struct.field("function_call")
    legacy_calls = pl.when(legacy_call.struct.field("name").is_not_null()).then(
        pl.concat_list(
            pl.struct(
                id=pl.lit(None, pl.String),
                name=legacy_call.struct.field("name"),
                arguments=legacy_call.struct.field("arguments"),
            )
        )
    )
    logprobs = choice.struct.field("logprobs").struct.field("content")
    timestamp = parse_timestamps(x.struct.field("timestamp"))
    created = (either("created") * 1_000_000).cast(pl.Int64, strict=False)  # beyond: unknown
    usage = either("usage")
    feedback = x.struct.field("feedback")
    return frame.select(
        numbered(native_id).alias("source_id"),
        numbered(call_id).alias(CALL_ID),
        pl.col("source_line"),
        pl.coalesce(
            timestamp, pl.from_epoch(created, time_unit="us").dt.replace_time_zone("UTC")
        ).alias("timestamp"),
        x.struct.field("task").alias("task"),
        pl.coalesce(
            resp.struct.field("model"), req.struct.field("model"), x.struct.field("model")
        ).alias("model"),
        x.struct.field("prompt_version").alias("prompt_version"),
        messages.alias("messages"),
        pl.coalesce(message.struct.field("content"), choice.struct.field("text")).alias("output"),
        pl.coalesce(tool_calls.list.drop_nulls(), legacy_calls).alias("tool_calls"),
        message.struct.field("refusal").alias("refusal"),
        choice.struct.field("finish_reason").alias("finish_reason"),
        pl.coalesce(
            error.struct.field("message"), error.struct.field("code"), error.struct.field("type")
        ).alias("error"),
        x.struct.field("status_code").alias("status_code"),
        usage.struct.field("prompt_tokens").alias("prompt_tokens"),
        usage.struct.field("completion_tokens").alias("completion_tokens"),
        x.struct.field("latency_ms").alias("latency_ms"),
        x.struct.field("ttft_ms").alias("ttft_ms"),
        x.struct.field("cost").alias("cost"),
        feedback.struct.field("score").alias("feedback_score"),
        feedback.struct.field("comment").alias("feedback_comment"),
        feedback.struct.field("correction").alias("correction"),
        x.struct.field("reference").alias("reference"),
        logprobs.list.eval(pl.element().struct.field("logprob"))
        .list.mean()
        .exp()
        .alias("confidence"),
        pl.col("metadata"),
        pl.col("tools"),
        pl.col("line").alias(RAW),
        pl.col("_choices").is_not_null().alias("_has_choice"),
        error.struct.field("message").is_not_null().alias("_has_error"),
    )


def _top_level_value(lines: pl.Series, path: str) -> pl.Series:
    """json_path_match of a top-level key ("$.metadata"), parsing only the line's tail.

    `{` + the text from the key's first `"key":` to the end of the line is valid JSON only when
    that key is at the top level (a nested one leaves its enclosing braces unmatched), and then
    it holds the key's value: a 2 KB log line costs ~100 bytes of parsing instead of 2 KB. Lines
    where it does not hold are left null for the full parse.
    """
    key = path.removeprefix("$.")
    if not key.isidentifier():
        return pl.Series(lines.name, [None] * lines.len(), dtype=pl.String)
    needle = f'"{key}":'
    after = pl.col("line").str.splitn(needle, 2).struct.field("field_1")
    tail = pl.lit("{" + needle) + after
    return pl.DataFrame({"line": lines}).select(tail.str.json_path_match(path)).to_series()


def _json_path_where(lines: pl.Series, needle: str, paths: list[str]) -> pl.Series:
    """json_path_match of the first path that matches, computed only on lines holding `needle`.

    Matching a path re-parses the line, so lines that cannot match are skipped.
    """
    out = pl.Series(lines.name, [None] * lines.len(), dtype=pl.String)
    mask = lines.str.contains(needle, literal=True).fill_null(False)
    if not mask.any():
        return out
    idx = mask.arg_true()
    subset = lines.filter(mask)
    values = _top_level_value(subset, paths[0])
    for path in paths:
        missing = values.is_null()
        if missing.any():
            values = values.scatter(
                missing.arg_true(), subset.filter(missing).str.json_path_match(path)
            )
    return out.scatter(idx, values)


class OpenAIChat(LogFormat):
    name: ClassVar[str] = "openai_chat"
    priority: ClassVar[int] = 70
    expects: ClassVar[str] = (
        "JSON lines holding an OpenAI chat completion (`choices`, or `response.choices`) and its "
        "request `messages`, or streamed `chat.completion.chunk` lines"
    )

    def sniff(self, sample: Sample) -> bool:
        for obj in sample.lines[:5]:
            if not isinstance(obj, dict):
                continue
            response = obj.get("response")
            if isinstance(response, dict | list) and ("request" in obj or "messages" in obj):
                return True
            request = obj.get("request")
            if isinstance(request, dict) and "messages" in request and obj.get("error"):
                return True  # a failed call: the request and the error, no response
            if isinstance(obj.get("choices"), list) or obj.get("object") in (
                "chat.completion",
                "chat.completion.chunk",
                "text_completion",
            ):
                return True
        return False

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        # Chunks decode in parallel (polars releases the GIL); results come in order.
        stream_chunks: dict[str, tuple[int, list[Any]]] = {}
        offset = 0  # lines before this chunk
        for line_count, batch, streams in ordered_map(
            _decode_chunk, source.iter_line_chunks(ctx.chunk_bytes, ctx.max_line_bytes)
        ):
            batch.records = batch.records.with_columns(pl.col("source_line") + offset)
            for q in batch.quarantined:
                q.line += offset
            for key, (number, chunks) in streams.items():
                stream_chunks.setdefault(key, (number + offset, []))[1].extend(chunks)
            offset += line_count
            yield batch
        if stream_chunks:
            rows = [
                (number, normalize_exchange({"response": assemble_stream(chunks)}))
                for number, chunks in stream_chunks.values()
            ]
            raws = [orjson.dumps(chunks).decode() for _, chunks in stream_chunks.values()]
            yield _finish(exchange_rows_to_frame(rows, raws), [])


def _decode_chunk(chunk: bytes) -> tuple[int, Batch, dict[str, tuple[int, list[Any]]]]:
    """(lines in the chunk, its batch numbered from line 1, its streamed-chunk lines)."""
    lines = read_lines_frame(chunk)
    numbers = pl.int_range(1, lines.len() + 1, eager=True, dtype=pl.Int64)
    streams: dict[str, tuple[int, list[Any]]] = {}
    return lines.len(), decode_exchange_lines(lines, numbers, streams), streams


def exchange_rows_to_frame(rows: list[tuple[int, dict[str, Any]]], raws: list[str]) -> pl.DataFrame:
    """A frame of exchanges normalized in Python: (line number, EXCHANGE dict) pairs.

    coerce() keeps only EXCHANGE's keys; `metadata` and `tools` travel in each row's "_extra".
    """

    def extra(key: str) -> list[str | None]:
        return [to_json((row.get("_extra") or {}).get(key)) for _, row in rows]

    return pl.DataFrame(
        {
            "line": raws,
            "source_line": [number for number, _ in rows],
            "x": [row for _, row in rows],
            "metadata": extra("metadata"),
            "tools": extra("tools"),
        },
        schema={
            "line": pl.String,
            "source_line": pl.Int64,
            "x": EXCHANGE,
            "metadata": pl.String,
            "tools": pl.String,
        },
    )


def normalize_line(raw: str, obj: Any) -> dict[str, Any]:
    """normalize_exchange, keeping the line's metadata and tool definitions beside it."""
    row = normalize_exchange(obj)
    request = obj.get("request") if isinstance(obj.get("request"), dict) else {}
    row["_extra"] = {
        "metadata": obj.get("metadata") or request.get("metadata"),
        "tools": request.get("tools") or obj.get("tools"),
    }
    return row


def decode_exchange_lines(
    lines: pl.Series, numbers: pl.Series, stream_chunks: dict[str, tuple[int, list[Any]]]
) -> Batch:
    """Decode a chunk of log lines in bulk; the lines the bulk decoder rejects take Python's.

    polars' decoder with the EXCHANGE schema reads a whole chunk at once (in polars 2.1, ~2.5x
    faster than pyarrow's multithreaded JSON reader on the same lines, which an earlier version
    used); a chunk it rejects (a bad line, a number where text is expected) is bisected to the
    odd lines, which are read in Python.
    """
    frame = pl.DataFrame({"line": lines, "source_line": numbers}).filter(
        pl.col("line").is_not_null()
    )
    good, odd = _bulk_decode(frame)
    x = good["x"]
    # streamed chunks and Responses API rows are read in Python
    is_chunk = (
        (x.struct.field("object") == "chat.completion.chunk")
        | (x.struct.field("object") == "response")
        | (x.struct.field("response").struct.field("object") == "response")
        | x.struct.field("request").struct.field("input").is_not_null()
    ).fill_null(False)
    if is_chunk.any():
        odd = pl.concat([odd, good.filter(is_chunk).select("line", "source_line")])
        good = good.filter(~is_chunk)
    good = good.with_columns(
        _json_path_where(good["line"], '"metadata"', ["$.metadata", "$.request.metadata"]).alias(
            "metadata"
        ),
        _json_path_where(good["line"], '"tools"', ["$.request.tools", "$.tools"]).alias("tools"),
    )
    quarantined: list[Quarantined] = []
    rows, raws = [], []
    for raw, number in odd.iter_rows():
        if not raw.strip(JSON_SPACE.decode()):
            continue  # a line of spaces is a blank line
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            quarantined.append(Quarantined(number, f"not valid JSON: {exc}", cut_raw(raw)))
            continue
        if isinstance(obj, dict) and obj.get("object") == "chat.completion.chunk":
            stream_chunks.setdefault(str(obj.get("id")), (number, []))[1].append(obj)
            continue
        try:
            rows.append((number, normalize_line(raw, obj)))
        except RowError as exc:
            quarantined.append(Quarantined(number, str(exc), cut_raw(raw)))
            continue
        except SHAPE_ERRORS as exc:
            quarantined.append(shape_error(number, raw, obj, exc))
            continue
        raws.append(raw)
    if rows:
        good = pl.concat([good, exchange_rows_to_frame(rows, raws)]).sort("source_line")
    return _finish(good, quarantined)


def _finish(frame: pl.DataFrame, quarantined: list[Quarantined]) -> Batch:
    """Map exchanges to records; rows with no response at all go to quarantine."""
    records = exchanges_to_records(frame)
    no_response = ~(pl.col("_has_choice") | pl.col("_has_error"))
    missing = records.filter(no_response)
    for number, raw in missing.select("source_line", RAW).iter_rows():
        quarantined.append(
            Quarantined(
                number,
                "no response: the line has neither the model's answer (`choices`, or "
                "`response.choices`) nor an `error`",
                cut_raw(raw),
            )
        )
    records = records.filter(~no_response).drop("_has_choice", "_has_error")
    return Batch(records, quarantined)


def _bulk_decode(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(decoded rows with `x`, rows polars' strict decoder rejected), by bisection."""
    try:
        return frame.with_columns(
            pl.col("line").str.json_decode(EXCHANGE).alias("x")
        ), frame.clear()
    except pl.exceptions.PolarsError:
        if frame.height <= 64:
            return frame.clear().with_columns(x=pl.lit(None, EXCHANGE)), frame
    half = frame.height // 2
    good_a, odd_a = _bulk_decode(frame.slice(0, half))
    good_b, odd_b = _bulk_decode(frame.slice(half))
    return pl.concat([good_a, good_b]), pl.concat([odd_a, odd_b])


def exchanges_batch(
    items: list[tuple[int, str, dict[str, Any]]],
    quarantined: list[Quarantined],
    skipped: dict[str, int] | None = None,
) -> Batch:
    """Records from exchanges other formats built in Python: (number, raw text, exchange)."""
    rows, raws = [], []
    for number, raw, obj in items:
        try:
            rows.append((number, normalize_line(raw, obj)))
        except RowError as exc:
            quarantined.append(Quarantined(number, str(exc), cut_raw(raw)))
            continue
        except SHAPE_ERRORS as exc:
            quarantined.append(shape_error(number, raw, obj, exc))
            continue
        raws.append(raw)
    batch = _finish(exchange_rows_to_frame(rows, raws), quarantined)
    batch.skipped = dict(skipped or {})
    return batch
