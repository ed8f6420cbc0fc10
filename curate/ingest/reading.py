"""Reading the sources: each file streamed in chunks through its format's reader (the next chunk
read in a background thread), or read whole by Daft workers, several at once; what cannot be
read becomes quarantine rows with its line."""

from __future__ import annotations

import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import polars as pl

from curate.core.engine import Engine, is_remote
from curate.core.errors import CurateError, InputError
from curate.core.records import QUARANTINE_SCHEMA, RECORD_SCHEMA, finalize
from curate.core.workspace import now_utc
from curate.ingest.formats import detect_format, get_format
from curate.ingest.formats.base import LogFormat, Quarantined, ReadContext, Source
from curate.ingest.inputs import local_copy
from curate.ingest.packs import Unpacked, local_units
from curate.ingest.results import SourceSummary

T = TypeVar("T")

# (source display name, bytes just read, total bytes of the source)
ProgressCallback = Callable[[str, int, int], None]


def prefetch(items: Iterator[T]) -> Iterator[T]:
    """Produce the next item in a background thread while the caller handles this one.

    Reading and decoding a chunk (pyarrow, I/O, hashing) then overlaps with finalizing and
    writing the previous one; both release the GIL, so two cores stay busy.
    """
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        """Hand over one slot, unless the consumer has gone (Ctrl-C, an error): then False.
        Never a blocking put: a consumer that stopped would leave this thread waiting, and
        the consumer's join waiting for it (Ctrl-C hung ingest)."""
        while not stop.is_set():
            try:
                slots.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("done", None)
        except BaseException as exc:  # handed to the consumer, raised there
            put("error", exc)

    worker = threading.Thread(target=produce, name="curate-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join()


@dataclass
class Parsed:
    """One source, read: its records (finalized) and unreadable rows, batch by batch."""

    location: str  # the manifest's path: a URL, or a local file's absolute path
    summary: SourceSummary
    # (records, quarantine rows) per batch: a generator for a file streamed here, a list for
    # one a Daft worker read whole
    batches: Iterable[tuple[pl.DataFrame, pl.DataFrame]]
    size: int  # bytes on disk: a big file is committed on its own
    warnings: list[str] = field(default_factory=list)


def read_outputs(
    outputs: list[tuple[str | Source, LogFormat | None]],
    ctx: ReadContext,
    task: str | None,
    engine: Engine,
    source_of: Callable[..., Source],
    progress: ProgressCallback,
) -> Iterator[Parsed]:
    """The sources read, in order. Local engine: one after another, streamed in chunks (an
    object in a store is copied to a temporary file first). Daft: the files are read whole by
    Daft workers, several at once; a file over 4 chunks is streamed here instead, so no
    worker holds a huge file in memory."""
    if not engine.distributed:
        # small files are read in packs (ingest/packs.py), the next pack while this one is
        # handled; the others streamed one by one
        for unit in prefetch(local_units(outputs, ctx, task)):
            if isinstance(unit, list):
                yield from (_parsed(file) for file in unit)
                continue
            item, fmt = unit
            if isinstance(item, Source):
                yield from _stream(item, fmt, ctx, task)
            else:
                with local_copy(item, engine) as path:
                    copy = source_of(path, url=item)
                    yield from _stream(copy, fmt or _remote_format(copy), ctx, task)
        return
    big = 4 * ctx.chunk_bytes
    # (path or URL, its name in messages, format name) for the workers
    pending: list[tuple[str, str, str | None]] = []
    order: list[tuple[Source, LogFormat] | None] = []  # None: the next worker's result
    for item, fmt in outputs:
        if isinstance(item, Source) and fmt is not None and item.size > big:
            order.append((item, fmt))
        else:
            if isinstance(item, str):
                pending.append((item, item, fmt.name if fmt else None))
            else:
                path = str(item.path.resolve())
                pending.append((path, item.display, fmt.name if fmt else None))
            order.append(None)
    spec = _WorkerSpec(
        ctx.chunk_bytes, ctx.field_map, ctx.batch_requests, task, engine, ctx.max_line_bytes
    )
    read = engine.map_items(pending, spec.read)
    for entry in order:
        if entry is None:
            parsed = next(read)
            if isinstance(parsed, CurateError):
                raise parsed
            progress(parsed.summary.path, parsed.size, parsed.size)
            yield parsed
        else:
            yield from _stream(entry[0], entry[1], ctx, task)


def _remote_format(source: Source) -> LogFormat:
    fmt = detect_format(source)
    if fmt.completes:
        raise InputError(
            f"{source.display} is {fmt.side_input}. Give it as a local file, not from the "
            "object store: it is read here, before the files it completes"
        )
    return fmt


def _stream(source: Source, fmt: LogFormat, ctx: ReadContext, task: str | None) -> Iterator[Parsed]:
    summary = SourceSummary(source.display, fmt.name)
    warnings: list[str] = []
    skipped: Counter[str] = Counter()

    def batches() -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
        for batch in prefetch(fmt.read(source, ctx)):
            skipped.update(batch.skipped)
            warnings.extend(batch.warnings)
            yield _finalized(batch, source, fmt, task)
        summary.sha256 = source.sha256
        summary.skipped = {k: v for k, v in skipped.items() if v}

    yield Parsed(source.location, summary, batches(), source.size, warnings)


def _parsed(file: Unpacked) -> Parsed:
    """A file of a pack as if it had been streamed alone."""
    source, fmt = file.source, file.format
    summary = SourceSummary(source.display, fmt, source.sha256, skipped=file.skipped)
    batches = [(file.records, quarantine_frame(source, fmt, file.quarantined))]
    return Parsed(source.location, summary, batches, source.size, file.warnings)


def _finalized(
    batch, source: Source, fmt: LogFormat, task: str | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    unreadable = quarantine_frame(source, fmt.name, batch.quarantined)
    if batch.records.height == 0:
        return RECORD_SCHEMA.to_frame(), unreadable
    records = finalize(batch.records, source_format=fmt.name, task=task, native_id=fmt.native_id)
    return records.with_columns(pl.lit(source.name).alias("source")), unreadable


@dataclass
class _WorkerSpec:
    """What a Daft worker needs to read a file whole (pickled to it)."""

    chunk_bytes: int
    field_map: dict[str, str]
    batch_requests: dict[str, dict[str, Any]]
    task: str | None
    engine: Engine
    max_line_bytes: int

    def read(self, item: tuple[str, str, str | None]) -> Parsed | CurateError:
        """The file read whole; a CurateError (a file cut short, say) is returned, not raised,
        so it reaches the driver as itself, in its file's turn, not wrapped by Daft."""
        path, display, format_name = item
        ctx = ReadContext(
            self.chunk_bytes, self.field_map, self.batch_requests, self.max_line_bytes
        )
        try:
            if not is_remote(path):
                return self._read(Source(path, display=display), format_name, ctx)
            with local_copy(path, self.engine) as copy:
                return self._read(Source(copy, url=path), format_name, ctx)
        except CurateError as exc:
            return exc

    def _read(self, source: Source, format_name: str | None, ctx: ReadContext) -> Parsed:
        fmt = get_format(format_name) if format_name else _remote_format(source)
        (parsed,) = _stream(source, fmt, ctx, self.task)
        batches = list(parsed.batches)
        records = [r for r, _ in batches]
        quarantined = [q for _, q in batches]
        parsed.batches = [
            (
                pl.concat([RECORD_SCHEMA.to_frame(), *records], how="vertical_relaxed"),
                pl.concat([QUARANTINE_SCHEMA.to_frame(), *quarantined]),
            )
        ]
        return parsed


def quarantine_frame(source: Source, format_name: str, rows: list[Quarantined]) -> pl.DataFrame:
    """Unreadable rows as a quarantine frame, one row per line (its first reason); the file's
    sha256 is filled in at commit."""
    if not rows:
        return QUARANTINE_SCHEMA.to_frame()
    seen: set[int] = set()
    rows = [q for q in rows if not (q.line in seen or seen.add(q.line))]
    items = source.items
    if items:  # a page of a trace store: the reason names the item (its line is on the page)
        rows = [
            Quarantined(q.line, f"{items[q.line - 1]}: {q.reason}", q.raw)
            if 0 < q.line <= len(items)
            else q
            for q in rows
        ]
    return pl.DataFrame(
        {
            "source": [source.display] * len(rows),
            "source_sha256": [""] * len(rows),
            "source_format": [format_name] * len(rows),
            "line": [q.line for q in rows],
            "reason": [q.reason for q in rows],
            "raw": [q.raw for q in rows],
            "quarantined_at": [now_utc()] * len(rows),
        },
        schema=QUARANTINE_SCHEMA,
    )
