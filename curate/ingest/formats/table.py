"""Any JSONL, CSV or Parquet file, read through a column mapping (--map FIELD=COLUMN).

FIELD is a canonical field (output, reference, model, task, timestamp, feedback_score, ...) or
one of: `input` (the user message), `system` (the system prompt), `messages` (a list of
{role, content}, or its JSON text), `id` (the native id). COLUMN may be dotted to reach into
JSON objects (`request.question`). Columns not mapped are kept in `metadata`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import polars as pl

from curate.core.errors import ConfigError, InputError
from curate.core.records import MESSAGE, RAW, RECORD_SCHEMA, to_json
from curate.ingest.formats.base import (
    JSON_SPACE,
    Batch,
    LogFormat,
    Quarantined,
    ReadContext,
    Source,
    cut_raw,
    parse_timestamps,
    read_lines_frame,
)
from curate.ingest.formats.csv_rows import polars_rows
from curate.ingest.formats.messages import read_messages, turns

ALIASES = {"id": "source_id"}
SPECIAL = {"input", "system", "messages"}
NOT_MAPPABLE = {"record_id", "source", "source_format", "source_line"}
CHUNK_ROWS = 100_000


def mappable_fields() -> list[str]:
    return sorted((set(RECORD_SCHEMA.names()) - NOT_MAPPABLE) | SPECIAL | set(ALIASES))


def parse_map(values: Iterable[str]) -> dict[str, str]:
    """`--map FIELD=COLUMN` options as {field: column}."""
    out = {}
    for value in values:
        field, sep, column = value.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise ConfigError(f"--map {value!r}: write FIELD=COLUMN, e.g. --map output=answer")
        out[field.strip()] = column.strip()
    return out


def check_map(field_map: dict[str, str]) -> dict[str, str]:
    """The mapping with aliases resolved; an InputError for fields that do not exist."""
    out = {}
    for field_name, column in field_map.items():
        target = ALIASES.get(field_name, field_name)
        if target not in set(mappable_fields()) | set(ALIASES.values()):
            raise InputError(
                f"--map {field_name}={column}: {field_name!r} is not a field curate knows. "
                f"Map one of: {', '.join(mappable_fields())}"
            )
        out[target] = column
    if not ({"input", "messages"} & set(out)):
        raise InputError(
            "--map needs the model's input: --map input=COLUMN or --map messages=COLUMN"
        )
    if not ({"output", "error", "tool_calls"} & set(out)):
        raise InputError("--map needs the model's answer: --map output=COLUMN")
    return out


def _column(frame: pl.DataFrame, path: str, field_name: str, source: Source) -> pl.Expr:
    head, *rest = path.split(".")
    if head not in frame.columns:
        raise InputError(
            f"{source.display}: --map {field_name}={path}: no column {head!r}. "
            f"Columns: {', '.join(c for c in frame.columns if c != '_row')}"
        )
    expr = pl.col(head)
    for part in rest:
        expr = expr.struct.field(part)
    return expr


def _as(expr: pl.Expr, dtype: pl.DataType, frame_dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String and isinstance(frame_dtype, pl.Struct):
        return expr.struct.json_encode()
    if dtype == pl.String and isinstance(frame_dtype, pl.List | pl.Array):
        # lists (of anything) as their JSON text; no expression does that for every inner type
        return expr.map_elements(to_json, return_dtype=pl.String, skip_nulls=True)
    if dtype == pl.String and frame_dtype == pl.Boolean:
        return expr.cast(pl.String)
    return expr.cast(dtype, strict=False)


def map_frame(frame: pl.DataFrame, field_map: dict[str, str], source: Source) -> pl.DataFrame:
    """Canonical columns (plus `_raw`, `source_line`) from a frame of the user's columns."""
    exprs = []
    used = {path.split(".")[0] for path in field_map.values()}
    resolved = frame.select(
        _column(frame, path, f, source).alias(f) for f, path in field_map.items()
    )
    for field_name, dtype in RECORD_SCHEMA.items():
        if field_name in field_map and field_name not in ("messages", "timestamp", "metadata"):
            exprs.append(
                _as(pl.col(field_name), dtype, resolved.schema[field_name]).alias(field_name)
            )
    mapped = resolved.select(exprs) if exprs else pl.DataFrame(height=resolved.height)
    mapped = mapped.with_columns(pl.Series("source_line", frame["_row"]))
    if "timestamp" in field_map:
        stamp = resolved["timestamp"]
        if isinstance(stamp.dtype, pl.Datetime):
            zone = stamp.dtype.time_zone
            stamp = stamp.dt.convert_time_zone("UTC") if zone else stamp.dt.replace_time_zone("UTC")
        else:
            stamp = pl.select(parse_timestamps(pl.lit(stamp.cast(pl.String)))).to_series()
        mapped = mapped.with_columns(stamp.cast(RECORD_SCHEMA["timestamp"]).alias("timestamp"))
    mapped = mapped.with_columns(_messages(resolved, field_map).alias("messages"))
    rest = [c for c in frame.columns if c not in used and c != "_row"]
    if "metadata" in field_map:
        metadata = _as(pl.col("metadata"), pl.String, resolved.schema["metadata"])
        mapped = mapped.with_columns(resolved.select(metadata.alias("metadata"))["metadata"])
    elif rest:
        metadata = pl.struct(rest).struct.json_encode().alias("metadata")
        mapped = mapped.with_columns(frame.select(metadata)["metadata"])
    else:  # every column is mapped: nothing left over for metadata
        mapped = mapped.with_columns(pl.lit(None, pl.String).alias("metadata"))
    raw = frame.drop("_row").select(pl.struct(pl.all()).struct.json_encode().alias(RAW))[RAW]
    return mapped.with_columns(raw)


def _messages(resolved: pl.DataFrame, field_map: dict[str, str]) -> pl.Series:
    if "messages" in field_map:
        values = resolved["messages"].to_list()
        return pl.Series("messages", [read_messages(v) for v in values], dtype=pl.List(MESSAGE))

    def text(name: str) -> pl.Series:
        return resolved.select(_as(pl.col(name), pl.String, resolved.schema[name]))[name]

    given = [("system", text("system"))] if "system" in field_map else []
    return turns(*given, ("user", text("input")))


def _kind(source: Source) -> str:
    name = source.name.lower()
    if source.sample().head[:4] == b"PAR1" or name.endswith(".parquet"):
        return "parquet"
    if name.endswith((".csv", ".tsv")):
        return "csv"
    return "jsonl"


class Table(LogFormat):
    name: ClassVar[str] = "table"
    priority: ClassVar[int] = 90
    expects: ClassVar[str] = "any JSONL, CSV or Parquet file, read with --map FIELD=COLUMN"
    sniffed: ClassVar[bool] = False
    # an `id` column often names the test pair or request, which a second model answers too
    native_id: ClassVar[str] = "request"

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        if not ctx.field_map:
            raise InputError(
                f"{source.display}: the table format needs a column mapping, e.g. "
                "--map input=question --map output=answer --map reference=label"
            )
        field_map = check_map(ctx.field_map)
        kind = _kind(source)
        if kind == "jsonl":
            yield from self._read_jsonl(source, ctx, field_map)
            return
        if kind == "parquet":
            lazy = pl.scan_parquet(source.path)
            source.read_all()  # for its sha256
        else:
            yield from self._read_csv(source, field_map)
            return

        def collect(query: pl.LazyFrame) -> pl.DataFrame:
            try:
                return query.collect()
            except pl.exceptions.PolarsError as exc:
                raise InputError(
                    f"{source.display}: cannot be read as Parquet ({exc}). If it was cut short, "
                    "copy it again; if it is not Parquet, give it a name that says what it is "
                    "(.csv, .jsonl)."
                ) from None

        total = collect(lazy.select(pl.len())).item()
        for offset in range(0, max(total, 1), CHUNK_ROWS):
            frame = collect(lazy.slice(offset, CHUNK_ROWS))
            frame = frame.with_row_index("_row", offset=offset + 1).with_columns(
                pl.col("_row").cast(pl.Int64)
            )
            yield _batch(map_frame(frame, field_map, source), field_map)

    def _read_csv(self, source: Source, field_map: dict[str, str]) -> Iterator[Batch]:
        """CSV/TSV by the standard csv module, which keeps each row's file line: a row with more
        or fewer fields than the header goes to quarantine with its line number."""
        data = source.read_all()
        separator = "\t" if source.name.lower().endswith(".tsv") else ","
        # the header read from the first line alone, where it is one line (its quotes closed)
        first = data.split(b"\n", 1)[0]
        one_line = first.count(b'"') % 2 == 0
        text = (first if one_line else data).decode("utf-8-sig", errors="replace")
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
        header, warnings = self._header(reader, source)
        fast = polars_rows(data, separator, header) if one_line else None
        if fast is not None:  # every row well formed: polars read them (csv_rows.py)
            for offset in range(0, max(fast.height, 1), CHUNK_ROWS):
                frame = fast.slice(offset, CHUNK_ROWS)
                if frame.height:
                    batch = _batch(map_frame(frame, field_map, source), field_map)
                    batch.warnings, warnings = warnings, []
                    yield batch
            if warnings:
                yield Batch(pl.DataFrame(), [], warnings=warnings)
            return
        if one_line:  # the whole file for the csv module, from the top
            text = data.decode("utf-8-sig", errors="replace")
            reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
            next(reader)
        rows: list[list[str]] = []
        numbers: list[int] = []
        quarantined: list[Quarantined] = []
        last = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                quarantined.append(Quarantined(last + 1, f"not valid CSV: {exc}", None))
                last = reader.line_num
                continue
            first, last = last + 1, reader.line_num
            if not row:
                continue
            if len(row) != len(header):
                quarantined.append(
                    Quarantined(
                        first,
                        f"{len(row)} fields where the header has {len(header)}",
                        cut_raw(separator.join(row)),
                    )
                )
                continue
            rows.append(row)
            numbers.append(first)
            if len(rows) >= CHUNK_ROWS:
                yield self._csv_batch(
                    header, rows, numbers, quarantined, warnings, field_map, source
                )
                rows, numbers, quarantined, warnings = [], [], [], []
        if rows or quarantined or warnings:
            yield self._csv_batch(header, rows, numbers, quarantined, warnings, field_map, source)

    @staticmethod
    def _header(reader, source: Source) -> tuple[list[str], list[str]]:
        """The header's names made unique, and the warning when some were changed."""
        try:
            header = next(reader)
        except (StopIteration, csv.Error) as exc:
            raise InputError(
                f"{source.display}: no CSV header row ({exc or 'empty file'})."
            ) from None
        header, renamed = _unique_names(header)
        if not renamed:
            return header, []
        return header, [
            f"{source.display}: header names {', '.join(renamed)} repeat or are blank; "
            "read as " + ", ".join(header)
        ]

    @staticmethod
    def _csv_batch(header, rows, numbers, quarantined, warnings, field_map, source) -> Batch:
        if not rows:
            return Batch(pl.DataFrame(), quarantined, warnings=warnings)
        columns = list(zip(*rows, strict=True))
        frame = pl.DataFrame(
            {
                # an empty field is a missing value, as in polars' own CSV reader
                name: pl.Series(name, [v or None for v in values], pl.String)
                for name, values in zip(header, columns, strict=True)
            }
        ).with_columns(pl.Series("_row", numbers, pl.Int64))
        batch = _batch(map_frame(frame, field_map, source), field_map)
        batch.quarantined = quarantined + batch.quarantined
        batch.warnings = warnings
        return batch

    def _read_jsonl(
        self, source: Source, ctx: ReadContext, field_map: dict[str, str]
    ) -> Iterator[Batch]:
        first = 1
        heads = {path.split(".")[0] for path in field_map.values()}
        seen: set[str] = set()  # mapped columns met in some object of the file
        for chunk in source.iter_line_chunks(ctx.chunk_bytes, ctx.max_line_bytes):
            lines = read_lines_frame(chunk)
            numbers = pl.int_range(first, first + lines.len(), eager=True, dtype=pl.Int64)
            first += lines.len()
            frame = pl.DataFrame({"line": lines, "_row": numbers}).filter(
                pl.col("line").str.strip_chars(JSON_SPACE.decode()).str.len_bytes() > 0
            )
            rows, quarantined = _decode_objects(frame)
            if rows.height:
                seen |= heads & set(rows.columns)
                # a key no object of this chunk has: its rows are read as missing that value
                rows = rows.with_columns(
                    pl.lit(None, pl.String).alias(h) for h in sorted(heads - set(rows.columns))
                )
                batch = _batch(map_frame(rows, field_map, source), field_map)
                batch.quarantined = quarantined + batch.quarantined
                yield batch
            else:
                yield Batch(pl.DataFrame(), quarantined)
        if first > 1 and not seen and heads:
            raise InputError(
                f"{source.display}: no object has the mapped keys ({', '.join(sorted(heads))}): "
                "check the --map COLUMN names against the file's keys"
            )


def _unique_names(header: list[str]) -> tuple[list[str], list[str]]:
    """Header names made unique and non-blank (`name_2`, `column_3`), and those that were not."""
    out: list[str] = []
    changed: list[str] = []
    for i, name in enumerate(header, start=1):
        new = name.strip() or f"column_{i}"
        base, n = new, 2
        while new in out:
            new, n = f"{base}_{n}", n + 1
        if new != name:
            changed.append(repr(name))
        out.append(new)
    return out, changed


def objects_frame(objects: list[dict[str, Any]]) -> pl.DataFrame:
    """JSON objects as a frame; a key whose values differ in type (1, "a", [1]) becomes text
    (JSON text for objects and lists) instead of failing the whole batch."""
    try:
        return pl.from_dicts(objects, infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
        pass
    kinds: dict[str, set[type]] = {}
    for obj in objects:
        for key, value in obj.items():
            if value is not None:
                kinds.setdefault(key, set()).add(type(value))
    mixed = {
        key for key, types in kinds.items() if len(types - {int, float}) > 0 and len(types) > 1
    }
    mixed |= {key for key, types in kinds.items() if types & {int} and _too_big(objects, key)}
    fixed = [
        {k: (to_json(v) if k in mixed and not isinstance(v, str) else v) for k, v in obj.items()}
        for obj in objects
    ]
    schema_overrides = {key: pl.String for key in mixed}
    try:
        return pl.from_dicts(fixed, infer_schema_length=None, schema_overrides=schema_overrides)
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError):
        # mixed types deeper down (inside lists or objects): every value as text
        text = [{k: v if isinstance(v, str) else to_json(v) for k, v in o.items()} for o in objects]
        keys = {key for obj in text for key in obj}
        return pl.from_dicts(text, schema={key: pl.String for key in sorted(keys)})


def _too_big(objects: list[dict[str, Any]], key: str) -> bool:
    return any(isinstance(o.get(key), int) and abs(o[key]) >= 1 << 63 for o in objects)


def _decode_objects(frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Quarantined]]:
    import orjson

    quarantined, good, numbers = [], [], []
    for line, number in frame.iter_rows():
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            quarantined.append(Quarantined(number, f"not valid JSON: {exc}", cut_raw(line)))
            continue
        if not isinstance(obj, dict):
            quarantined.append(Quarantined(number, "expected a JSON object", cut_raw(line)))
            continue
        good.append(obj)
        numbers.append(number)
    if not good:
        return pl.DataFrame(), quarantined
    rows = objects_frame(good)
    return rows.with_columns(pl.Series("_row", numbers, dtype=pl.Int64)), quarantined


def _batch(records: pl.DataFrame, field_map: dict[str, str]) -> Batch:
    """Rows without an input go to quarantine, with the column that was empty."""
    has_input = pl.col("messages").list.len() > 0
    empty = records.filter(~has_input)
    column = field_map.get("input") or field_map.get("messages")
    quarantined = [
        Quarantined(number, f"the input column {column!r} is empty", cut_raw(raw))
        for number, raw in empty.select("source_line", RAW).iter_rows()
    ]
    return Batch(records.filter(has_input), quarantined)
