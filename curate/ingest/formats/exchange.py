"""The exchange: one call as an OpenAI chat request and response (the EXCHANGE schema), and its
mapping to canonical records. openai_chat reads its lines straight into it; openai_batch,
litellm and vcr build exchanges from their own shapes and hand them to `exchanges_batch`.

A line is decoded to EXCHANGE by polars in bulk where it fits the schema; what does not (text
parts lists, errors as strings, streams, the Responses API) is normalized in Python first
(`normalize_exchange`), so both paths give the same records.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.core.errors import RowError
from curate.core.records import CALL_ID, MESSAGE, RAW, coerce, to_json
from curate.ingest.formats.base import (
    SHAPE_ERRORS,
    Batch,
    Quarantined,
    cut_raw,
    parse_timestamps,
    shape_error,
)
from curate.ingest.formats.streams import (
    assemble_stream,
    content_text,
    responses_request,
    responses_to_completion,
)

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
        obj["request"] = responses_request(obj["request"])
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


def _messages(expr: pl.Expr) -> pl.Expr:
    """Canonical messages from the request's: an assistant turn's tool calls kept."""
    return expr.list.eval(
        pl.struct(
            pl.element().struct.field("role"),
            pl.element().struct.field("content"),
            pl.element().struct.field("name"),
            pl.element().struct.field("tool_call_id"),
            _tool_calls(pl.element()).alias("tool_calls"),
        )
    )


def _one_choice_per_row(frame: pl.DataFrame, either) -> pl.DataFrame:
    """`_choices`: the row's choice; a row of n > 1 choices becomes n rows (each choice is a
    call's output of its own). Objects in the list that are no choice (no message, text or
    finish_reason) are junk, left out."""
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
        return frame.explode("_choices")
    return frame.with_columns(pl.col("_choices").list.first())


def _request_messages(x: pl.Expr, req: pl.Expr) -> pl.Expr:
    """The request's messages, or its legacy `prompt` as one user turn."""
    prompt = pl.coalesce(req.struct.field("prompt"), x.struct.field("prompt"))
    return pl.coalesce(
        _messages(pl.coalesce(req.struct.field("messages"), x.struct.field("messages"))),
        pl.when(prompt.is_not_null()).then(
            pl.concat_list(pl.struct(role=pl.lit("user"), content=prompt).cast(MESSAGE))
        ),
    )


def _tool_calls(message: pl.Expr) -> pl.Expr:
    """The answer's tool calls as {id, name, arguments}; a legacy `function_call` as one."""
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
    return pl.coalesce(tool_calls.list.drop_nulls(), legacy_calls)


def exchanges_to_records(frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical columns from a frame with `x` (EXCHANGE structs), `line` and `source_line`."""
    x = pl.col("x")
    resp = x.struct.field("response")
    req = x.struct.field("request")

    def either(name: str) -> pl.Expr:
        return pl.coalesce(resp.struct.field(name), x.struct.field(name))

    frame = _one_choice_per_row(frame, either)
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
        """ids get "#index" past the first choice"""
        return pl.when(index > 0).then(value + pl.lit("#") + index.cast(pl.String)).otherwise(value)

    error = either("error")
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
        _request_messages(x, req).alias("messages"),
        pl.coalesce(message.struct.field("content"), choice.struct.field("text")).alias("output"),
        _tool_calls(message).alias("tool_calls"),
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


def finish_exchanges(frame: pl.DataFrame, quarantined: list[Quarantined]) -> Batch:
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


def add_exchange(
    number: int,
    raw: str,
    obj: Any,
    rows: list[tuple[int, dict[str, Any]]],
    raws: list[str],
    quarantined: list[Quarantined],
) -> None:
    """One decoded item normalized to an exchange (rows, with its text in raws), or quarantined
    with why it cannot be one."""
    try:
        rows.append((number, normalize_line(raw, obj)))
    except RowError as exc:
        quarantined.append(Quarantined(number, str(exc), cut_raw(raw)))
        return
    except SHAPE_ERRORS as exc:
        quarantined.append(shape_error(number, raw, obj, exc))
        return
    raws.append(raw)


def exchanges_batch(
    items: list[tuple[int, str, dict[str, Any]]],
    quarantined: list[Quarantined],
    skipped: dict[str, int] | None = None,
) -> Batch:
    """Records from exchanges other formats built in Python: (number, raw text, exchange)."""
    rows: list[tuple[int, dict[str, Any]]] = []
    raws: list[str] = []
    for number, raw, obj in items:
        add_exchange(number, raw, obj, rows, raws, quarantined)
    batch = finish_exchanges(exchange_rows_to_frame(rows, raws), quarantined)
    batch.skipped = dict(skipped or {})
    return batch
