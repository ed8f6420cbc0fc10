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

from curate.ingest.formats.base import (
    JSON_SPACE,
    Batch,
    LogFormat,
    Quarantined,
    ReadContext,
    Sample,
    Source,
    cut_raw,
    ordered_map,
    read_lines_frame,
)
from curate.ingest.formats.exchange import (
    EXCHANGE,
    add_exchange,
    exchange_rows_to_frame,
    finish_exchanges,
    normalize_exchange,
)
from curate.ingest.formats.streams import assemble_stream

# -- Python normalization of irregular lines ---------------------------------------------------


# -- the vectorized mapping --------------------------------------------------------------------


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
    packable: ClassVar[bool] = True
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
        # (file, completion id) -> (first line, its chunks): the chunks of one completion in
        # one file (a pack of files holds several)
        stream_chunks: dict[tuple[int, str], tuple[int, list[Any]]] = {}
        offset = 0  # lines before this chunk
        for line_count, batch, streams in ordered_map(
            _decode_chunk, source.iter_line_chunks(ctx.chunk_bytes, ctx.max_line_bytes)
        ):
            batch.records = batch.records.with_columns(pl.col("source_line") + offset)
            for q in batch.quarantined:
                q.line += offset
            for key, chunks in streams.items():
                for number, chunk in chunks:
                    line = number + offset
                    part = (source.part(line), key)
                    stream_chunks.setdefault(part, (line, []))[1].append(chunk)
            offset += line_count
            yield batch
        if stream_chunks:
            rows = [
                (number, normalize_exchange({"response": assemble_stream(chunks)}))
                for number, chunks in stream_chunks.values()
            ]
            raws = [orjson.dumps(chunks).decode() for _, chunks in stream_chunks.values()]
            yield finish_exchanges(exchange_rows_to_frame(rows, raws), [])


def _decode_chunk(chunk: bytes) -> tuple[int, Batch, dict[str, list[tuple[int, Any]]]]:
    """(lines in the chunk, its batch numbered from line 1, its streamed-chunk lines by
    completion id, each with its line)."""
    lines = read_lines_frame(chunk)
    numbers = pl.int_range(1, lines.len() + 1, eager=True, dtype=pl.Int64)
    streams: dict[str, list[tuple[int, Any]]] = {}
    return lines.len(), decode_exchange_lines(lines, numbers, streams), streams


def decode_exchange_lines(
    lines: pl.Series, numbers: pl.Series, stream_chunks: dict[str, list[tuple[int, Any]]]
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
            stream_chunks.setdefault(str(obj.get("id")), []).append((number, obj))
            continue
        add_exchange(number, raw, obj, rows, raws, quarantined)
    if rows:
        good = pl.concat([good, exchange_rows_to_frame(rows, raws)]).sort("source_line")
    return finish_exchanges(good, quarantined)


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
