"""The canonical record: its polars schema, and the derived columns every format shares.

Every log format is read into frames of `RECORD_SCHEMA` (see schemas/record.schema.json, which
says the same thing for people and validators). Formats fill what their source has; `finalize`
derives the rest (record_id, prompt_version) the same way for all of them.
"""

from __future__ import annotations

from typing import Any

import orjson
import polars as pl
import polars_hash as plh

from curate.core.text import input_key

TOOL_CALL = pl.Struct({"id": pl.String, "name": pl.String, "arguments": pl.String})
# an assistant turn of the input may be tool calls (answered by `tool` turns): kept, so that an
# export trains on the conversation the model saw; no part of a record's id or input_hash
MESSAGE = pl.Struct(
    {
        "role": pl.String,
        "content": pl.String,
        "name": pl.String,
        "tool_call_id": pl.String,
        "tool_calls": pl.List(TOOL_CALL),
    }
)

RECORD_SCHEMA = pl.Schema(
    {
        "record_id": pl.String,
        "source_id": pl.String,
        "source": pl.String,
        "source_format": pl.String,
        "source_line": pl.Int64,
        "timestamp": pl.Datetime("us", "UTC"),
        "task": pl.String,
        "model": pl.String,
        "prompt_version": pl.String,
        "messages": pl.List(MESSAGE),
        "input_hash": pl.UInt64,
        "output": pl.String,
        "tool_calls": pl.List(TOOL_CALL),
        "tools": pl.String,
        "refusal": pl.String,
        "finish_reason": pl.String,
        "error": pl.String,
        "status_code": pl.Int64,
        "prompt_tokens": pl.Int64,
        "completion_tokens": pl.Int64,
        "latency_ms": pl.Float64,
        "ttft_ms": pl.Float64,
        "cost": pl.Float64,
        "feedback_score": pl.Float64,
        "feedback_comment": pl.String,
        "correction": pl.String,
        "reference": pl.String,
        "confidence": pl.Float64,
        "metadata": pl.String,
    }
)

QUARANTINE_SCHEMA = pl.Schema(
    {
        "source": pl.String,
        "source_sha256": pl.String,
        "source_format": pl.String,
        "line": pl.Int64,
        "reason": pl.String,
        "raw": pl.String,
        "quarantined_at": pl.Datetime("us", "UTC"),
    }
)

# Columns a format may hand to `finalize` besides the record's own.
RAW = "_raw"  # the row's raw text: hashed into record_id when there is no native id
# the id of the call itself, for formats whose native id names the request (Batch: custom_id)
CALL_ID = "_call_id"

# What a format's `source_id` names (LogFormat.native_id): one call, or the request it answered,
# which a second model or a second run answers again.
NATIVE_IDS = ("call", "request")

MAX_RAW_CHARS = 100_000


def finalize(
    df: pl.DataFrame, *, source_format: str, task: str | None, native_id: str = "call"
) -> pl.DataFrame:
    """Derive record_id and prompt_version, apply --task, and put columns in canonical order.

    `df` holds any subset of the canonical columns plus `_raw` and `_call_id`. record_id is the
    identity of one call: the same call read twice is one record, two models (or two runs)
    answering the same request are two. It is the first 32 hex digits of sha256 of, in order:

    - (format, `_call_id`): a response id, where the format's native id names the request;
    - (format, native id) where the native id names the call (`native_id="call"`: a completion
      id, a Langfuse observation, a LangSmith run, an OTel span);
    - (format, native id, raw text) where it names the request (`native_id="request"`: a table's
      `id` column, a Batch custom_id without a response id): another answer is another row;
    - (format, raw text) where there is no native id.
    """
    if native_id not in NATIVE_IDS:
        raise ValueError(f"native_id must be one of {NATIVE_IDS}, not {native_id!r}")
    for name, dtype in RECORD_SCHEMA.items():
        if name not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=dtype).alias(name))
    for name in (RAW, CALL_ID):
        if name not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    prefix = source_format + "\x1f"
    call_id, source_id = pl.col(CALL_ID), pl.col("source_id")
    if native_id == "call":
        key = pl.coalesce(pl.lit(prefix + "call:") + call_id, pl.lit(prefix + "id:") + source_id)
        uses_raw = call_id.is_null() & source_id.is_null()
    else:
        key = pl.lit(prefix + "call:") + call_id
        uses_raw = call_id.is_null()
    keys = df.select(key).to_series()
    uses_raw = df.select(uses_raw).to_series()
    if uses_raw.any():
        # Only the rows keyed by their content pay for copying their (long) raw text.
        raw_key = pl.lit(prefix + "raw:") + pl.col(RAW)
        if native_id == "request":
            by_request = pl.lit(prefix + "req:") + source_id + pl.lit("\x1f") + pl.col(RAW)
            raw_key = pl.coalesce(by_request, raw_key)
        raw_keys = df.filter(uses_raw).select(raw_key).to_series()
        keys = keys.scatter(uses_raw.arg_true(), raw_keys)
    key = pl.lit(keys)
    # The system prompt is the first message when it is one (cheaper than searching the list).
    first = pl.col("messages").list.first()
    system = pl.when(first.struct.field("role") == "system").then(first.struct.field("content"))
    # xxh3: stable across versions, and ~10x cheaper than sha256 on long system prompts.
    system_hash = pl.lit("sys-") + (plh.col("_system").nchash.xxh3_64() // (1 << 24)).cast(
        pl.String
    )
    df = df.with_columns(
        key.alias("_key"), system.alias("_system"), input_text().alias("_input")
    ).with_columns(
        input_hash("_input"),
        plh.col("_key").chash.sha2_256().str.slice(0, 32).alias("record_id"),
        pl.coalesce(
            pl.col("prompt_version"),
            pl.when(pl.col("_system").is_not_null()).then(system_hash),
        ).alias("prompt_version"),
        pl.lit(source_format).alias("source_format"),
        pl.col("messages").fill_null(pl.lit([], dtype=RECORD_SCHEMA["messages"])),
    )
    if task is not None:
        df = df.with_columns(pl.lit(task).alias("task"))
    return df.select(RECORD_SCHEMA.names()).cast(dict(RECORD_SCHEMA))


def input_text() -> pl.Expr:
    """The input as the model saw it less the system prompt, case and spacing folded.

    Records whose inputs fold to the same text share an `input_hash`: detect compares their
    answers, balance groups them.
    """
    text = (
        pl.col("messages")
        .list.eval(
            pl.element()
            .filter(pl.element().struct.field("role") != "system")
            .struct.field("content")
            .fill_null("")
        )
        .list.join("\n")
    )
    return input_key(text)


def input_hash(text_column: str) -> pl.Expr:
    """`input_hash` from a column of input_text(); null where there is no input."""
    text = pl.col(text_column)
    hashed = plh.col(text_column).nchash.xxh3_64()
    return pl.when(text.str.len_bytes() > 0).then(hashed).alias("input_hash")


def coerce(value: Any, dtype: pl.DataType) -> Any:
    """Fit a decoded JSON value to a polars dtype, the way a lenient reader would.

    Used on rows polars' strict JSON decoder rejects: objects where text is expected become
    their JSON text, numbers in strings become numbers, anything that cannot fit becomes None.
    """
    if value is None:
        return None
    if isinstance(dtype, pl.Struct):
        if not isinstance(value, dict):
            return None
        return {f.name: coerce(value.get(f.name), f.dtype) for f in dtype.fields}
    if isinstance(dtype, pl.List):
        if not isinstance(value, list):
            return None
        return [coerce(v, dtype.inner) for v in value]
    if dtype == pl.String:
        if isinstance(value, str):
            return value
        if isinstance(value, dict | list):
            return orjson.dumps(value).decode()
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    if dtype.is_integer():
        if isinstance(value, bool):
            return int(value)
        try:
            number = int(value) if isinstance(value, int) else int(float(value))
        except (TypeError, ValueError, OverflowError):
            return None
        return number if -(1 << 63) <= number < (1 << 63) else None  # beyond Int64: unknown
    if dtype.is_float():
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if dtype == pl.Boolean:
        return value if isinstance(value, bool) else None
    return value


def to_json(value: Any) -> str | None:
    """JSON text of a value, None for None; for metadata and tool definitions."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value, default=str).decode()
