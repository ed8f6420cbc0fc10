"""What every log format shares: its interface (LogFormat), what it reads (a Source and its
Sample, from source.py) and gives back (Batch, Quarantined), and the readers' helpers; among them
`read_items`, the loop of the formats whose file is JSON items (JSON lines or one document)."""

from __future__ import annotations

import io
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import orjson
import polars as pl

from curate.core.errors import InputError
from curate.core.records import MAX_RAW_CHARS
from curate.ingest.formats.source import (  # noqa: F401  (the readers import them from here)
    GZIP_MAGIC,
    JSON_SPACE,
    MAX_DOCUMENT_BYTES,
    MAX_LINE_BYTES,
    SAMPLE_BYTES,
    Sample,
    Source,
)

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Quarantined:
    """One input line or item that could not be read."""

    line: int
    reason: str
    raw: str | None


@dataclass
class ReadContext:
    """What a format's reader may need beyond the file itself."""

    chunk_bytes: int = 64 << 20
    field_map: dict[str, str] = field(default_factory=dict)  # --map FIELD=SOURCE_FIELD
    batch_requests: dict[str, dict[str, Any]] = field(default_factory=dict)  # custom_id -> body
    max_line_bytes: int = MAX_LINE_BYTES  # a longer line is quarantined, never held


@dataclass
class Batch:
    """Records read from part of a source (canonical columns, `_raw`, `source_line`)."""

    records: pl.DataFrame
    quarantined: list[Quarantined] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count: read, not records
    warnings: list[str] = field(default_factory=list)  # kept, but a person should know


class LogFormat:
    """A log format: knows its files when it sees them, and reads them into canonical records.

    Subclasses set `name`, `expects` (one line for people: what the format's rows look like)
    and implement `sniff` and `read`; they are registered under the entry point group
    `curate.formats` (see curate.core.plugins). Detection asks them in `priority` order, lowest
    first: the built-ins' most specific shapes come first (10..80), so a plugin's default of
    100 sees a file only when no built-in claims it; a lower one goes before them.
    """

    name: ClassVar[str]
    expects: ClassVar[str]
    sniffed: ClassVar[bool] = True  # False: used only when asked for by --format or --map
    priority: ClassVar[int] = 100
    # what `source_id` names: "call" (a completion, span, run or observation id: one call) or
    # "request" (a Batch custom_id, a table's id column: a second model answers it again). It
    # decides the record's identity (curate.core.records.finalize).
    native_id: ClassVar[str] = "call"
    # True: the reader takes each line on its own (lines it groups, it groups by
    # `source.part(line)` too), reads the source only through `iter_line_chunks`, and gives no
    # skipped counts or warnings; then consecutive small files are decoded together, as one
    # source, and split back (curate/ingest/packs.py): a decode's fixed cost is paid once.
    packable: ClassVar[bool] = False
    # a side input holds no records of its own: it completes another format's (a Batch API
    # input file holds the requests its output file answers). The name of that format, or None;
    # `side_input` says for people what the file is, and how to give it with the other one.
    completes: ClassVar[str | None] = None
    side_input: ClassVar[str] = ""

    def sniff(self, sample: Sample) -> bool:
        raise NotImplementedError

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        raise NotImplementedError

    def read_side(self, source: Source, ctx: ReadContext) -> tuple[int, list[Quarantined]]:
        """A side input's reading: what it holds put into `ctx` for the format it completes,
        read before that format's files; how many entries it held, and the unreadable rows."""
        raise NotImplementedError


# -- helpers shared by the readers ------------------------------------------------------------


# what a reader meets in a line whose fields have unexpected types or shapes
SHAPE_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError)


def shape_error(number: int, raw: str, item: Any, exc: Exception) -> Quarantined:
    """The quarantine row of an item a reader could not make sense of."""
    from curate.core.records import to_json

    return Quarantined(
        number,
        f"a field has an unexpected type or shape ({type(exc).__name__}: {exc})",
        cut_raw(raw or to_json(item)),
    )


def cut_raw(text: str | bytes | None) -> str | None:
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_RAW_CHARS else text[:MAX_RAW_CHARS]


def read_lines_frame(chunk: bytes) -> pl.Series:
    """The lines of a chunk as a String series, one row per line (None for a blank line).

    polars' CSV reader with a separator that valid JSON cannot contain (and no quoting) splits
    lines ~5x faster than Python, one row per line break; a chunk it cannot split (a stray
    control byte) is split in Python.
    """
    try:
        return pl.read_csv(
            io.BytesIO(chunk),
            has_header=False,
            separator="\x1f",
            quote_char=None,
            new_columns=["line"],
            schema={"line": pl.String},
            encoding="utf8-lossy",
        )["line"]
    except pl.exceptions.PolarsError:
        pass
    text = chunk.decode("utf-8", errors="replace").split("\n")[: chunk.count(b"\n")]
    return pl.Series("line", [t.rstrip("\r") or None for t in text], dtype=pl.String)


def iter_json_items(source: Source, ctx: ReadContext) -> Iterator[tuple[int, str, Any]]:
    """(item number, raw text, parsed value or the exception) for every item of a JSON source.

    A file that is one JSON array yields its elements; one JSON object yields itself; JSON lines
    yield one item per non-blank line, numbered by line.
    """
    sample = source.sample()
    if sample.document is not None:
        doc = sample.document if sample.complete else orjson.loads(source.read_all())
        items = doc if isinstance(doc, list) else [doc]
        for number, item in enumerate(items, start=1):
            yield number, "", item
        return
    if sample.head.lstrip().split(b"\n", 1)[0].strip() in (b"[", b"{"):
        # a pretty-printed document (its first line a lone bracket) that does not parse
        try:
            orjson.loads(source.read_all())
        except orjson.JSONDecodeError as exc:
            raise InputError(
                f"{source.display}: one JSON document over several lines, and it is not valid "
                f"JSON ({exc}). Fix it, or write it as JSON lines (one record per line)."
            ) from None
    # JSON lines: each line read (or quarantined) on its own
    number = 0
    for chunk in source.iter_chunks(ctx.chunk_bytes, ctx.max_line_bytes):
        for raw in chunk.split(b"\n")[: chunk.count(b"\n")]:
            number += 1
            if not raw.strip(JSON_SPACE):
                continue
            try:
                yield number, raw.decode("utf-8", errors="replace"), orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield number, raw.decode("utf-8", errors="replace"), exc


BATCH_ITEMS = 20_000  # the rows (or exchanges) a reader gathers before it yields a batch

# what one item gave: its rows (or exchanges), and what it held that is no record, by reason
ItemRead = tuple[list[Any], dict[str, int]]


def read_items(
    source: Source,
    ctx: ReadContext,
    *,
    is_item: Callable[[Any], bool],
    not_item: str,
    read_item: Callable[[int, str, Any], ItemRead],
    batch: Callable[[list[Any], list[Quarantined], dict[str, int]], Batch],
    end: Callable[[Batch], None] | None = None,
) -> Iterator[Batch]:
    """The loop of a format whose file is JSON items (lines, or one document), each read on its
    own. An item that is not JSON, not of the format's shape (`is_item`; `not_item` says why),
    or whose fields have unexpected types (SHAPE_ERRORS out of `read_item`) is quarantined with
    its number. What `read_item` gives is gathered and made a Batch (`batch`) every BATCH_ITEMS
    and at the end; `end` sees the last batch (a warning about the whole file goes there)."""
    from curate.core.records import to_json

    rows: list[Any] = []
    quarantined: list[Quarantined] = []
    skipped: Counter[str] = Counter()
    for number, raw, item in iter_json_items(source, ctx):
        if isinstance(item, Exception):
            quarantined.append(Quarantined(number, f"not valid JSON: {item}", cut_raw(raw)))
            continue
        if not is_item(item):
            quarantined.append(Quarantined(number, not_item, cut_raw(raw or to_json(item))))
            continue
        try:
            got, why = read_item(number, raw, item)
        except SHAPE_ERRORS as exc:
            quarantined.append(shape_error(number, raw, item, exc))
            continue
        rows += got
        skipped.update(why)
        if len(rows) >= BATCH_ITEMS:  # bounded memory on large files
            yield batch(rows, quarantined, dict(skipped))
            rows, quarantined, skipped = [], [], Counter()
    last = batch(rows, quarantined, dict(skipped))
    if end is not None:
        end(last)
    yield last


def rows_batch(rows: list[dict[str, Any]], quarantined, skipped: dict[str, int]) -> Batch:
    """A batch of records built in Python (see records_frame)."""
    return Batch(records_frame(rows), quarantined, skipped)


def dotted(obj: Any, path: str) -> Any:
    """obj['a']['b'] for 'a.b' (None where a step is missing)."""
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def elapsed_ms(start: Any, end: Any) -> float | None:
    """Milliseconds from one ISO time to another (None when either is missing or unreadable)."""
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    try:
        a = datetime.fromisoformat(start.replace("Z", "+00:00"))
        b = datetime.fromisoformat(end.replace("Z", "+00:00"))
        return (b - a).total_seconds() * 1000
    except (ValueError, TypeError):
        return None


def records_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Records built in Python (dicts of canonical fields, `_raw`, `source_line`) as a frame.

    `timestamp` may be ISO text, epoch seconds, or a datetime; it is parsed here for all.
    """
    from curate.core.records import RAW, RECORD_SCHEMA, coerce

    schema = {name: dtype for name, dtype in RECORD_SCHEMA.items() if name != "timestamp"}
    schema |= {"timestamp": pl.String, RAW: pl.String}
    for row in rows:
        stamp = row.get("timestamp")
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            stamp = float(stamp)
            if stamp > 1e17:
                stamp /= 1e9  # nanoseconds (OTel)
            elif stamp > 1e14:
                stamp /= 1e6
            elif stamp > 1e11:
                stamp /= 1e3
            try:
                row["timestamp"] = datetime.fromtimestamp(stamp, UTC).isoformat()
            except (OverflowError, OSError, ValueError):  # no date a log could have
                row["timestamp"] = None
        elif stamp is not None and not isinstance(stamp, str):
            row["timestamp"] = str(stamp)
    # values of the wrong type (a number where text belongs) are fitted, not fatal to the batch
    frame = pl.DataFrame(
        [{name: coerce(row.get(name), dtype) for name, dtype in schema.items()} for row in rows],
        schema=schema,
        orient="row",
    )
    return frame.with_columns(parse_timestamps(pl.col("timestamp")))


def parse_timestamps(expr: pl.Expr) -> pl.Expr:
    """ISO-8601 text (with or without zone; naive means UTC), or epoch seconds / milliseconds /
    microseconds / nanoseconds written as a number, as UTC datetimes; junk -> null."""
    text = expr.str.replace(r"Z$", "+00:00").str.replace(" ", "T", literal=True)
    with_zone = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us")
    naive = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    number = expr.str.extract(r"^\s*(\d{9,19}(?:\.\d+)?)\s*$", 1).cast(pl.Float64, strict=False)
    # the magnitude says the unit: 1.7e9 seconds, 1.7e12 ms, 1.7e15 us, 1.7e18 ns
    micros = (
        pl.when(number < 1e11)
        .then(number * 1e6)
        .when(number < 1e14)
        .then(number * 1e3)
        .when(number < 1e17)
        .then(number)
        .otherwise(number / 1e3)
    ).cast(pl.Int64, strict=False)
    epoch = pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC")
    return pl.coalesce(
        with_zone.dt.convert_time_zone("UTC"), naive.dt.replace_time_zone("UTC"), epoch
    ).alias("timestamp")


def ordered_map(fn: Callable[[T], R], items: Iterator[T], workers: int = 2) -> Iterator[R]:
    """fn over items on `workers` threads, results in input order, at most `workers` in flight.

    For work that releases the GIL (polars, pyarrow): two chunks decode at once on two cores,
    and memory stays bounded by the number in flight.
    """
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="curate-decode") as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
