"""Many small files read as one: consecutive small files of a format that reads each line on
its own (`LogFormat.packable`) are decoded together, one decode for a pack of files, and split
back into one Parsed per file, as if each had been read alone.

A decode has a fixed cost (a dozen polars steps, a few milliseconds) whatever its size: 2,000
files of 10 lines cost 2,000 of them read one by one, a handful packed. Each file keeps what it
would have had alone: its sha256, its manifest entry and counts, its records (`source`, line
numbers within the file) and its quarantine rows. A file's lines are read by the file's own
Source (gzip, a JSON array as lines, a line over the limit as its notice), so a pack's bytes are
exactly the bytes each file's reader would have decoded.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from curate.core.errors import CurateError
from curate.core.records import RECORD_SCHEMA, finalize
from curate.ingest.formats.base import Batch, LogFormat, Quarantined, ReadContext, Source

PACK_FILE_BYTES = 1 << 20  # a file up to this on disk may join a pack
PACK_MAX_READ = 8 << 20  # what one file may inflate to (gzip) and stay in its pack
PACK_MAX_FILES = 1000  # files in one pack (and so, at most, in one group commit)


@dataclass
class Unpacked:
    """One file of a pack, read: its records (finalized) and its unreadable lines."""

    source: Source
    format: str
    records: pl.DataFrame
    quarantined: list[Quarantined]
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class PackedLines:
    """The lines of a pack's files as one source to a packable format's reader: one chunk of
    every file's lines, and which file a line is in (`part`)."""

    def __init__(self, data: bytes, starts: list[int], display: str):
        self.data, self.starts, self.display = data, starts, display
        self.items = None

    def iter_line_chunks(self, chunk_bytes: int, max_line: int | None = None) -> Iterator[bytes]:
        if self.data:
            yield self.data

    def part(self, line: int) -> int:
        """The index of the file that holds line `line` (1-based) of the pack."""
        return bisect.bisect_left(self.starts, line) - 1


def packable(item: Any, fmt: LogFormat | None, ctx: ReadContext) -> bool:
    """A local file small enough (and within a chunk: a bigger one is streamed in chunks), of
    a format whose reader takes packs."""
    return (
        isinstance(item, Source)
        and fmt is not None
        and fmt.packable
        and item.items is None
        and item.size <= min(PACK_FILE_BYTES, ctx.chunk_bytes)
    )


class Pack:
    """Small files of one format, their lines read (and so hashed), waiting to be decoded."""

    def __init__(self, fmt: LogFormat, chunk_bytes: int):
        self.fmt, self.chunk_bytes = fmt, chunk_bytes
        self.sources: list[Source] = []
        self.chunks: list[bytes] = []
        self.starts = [0]  # lines before each file (and the total, last)
        self.bytes = 0

    def takes(self, fmt: LogFormat) -> bool:
        return fmt.name == self.fmt.name

    @property
    def full(self) -> bool:
        return self.bytes >= self.chunk_bytes or len(self.sources) >= PACK_MAX_FILES

    def load(self, source: Source, ctx: ReadContext) -> bool:
        """Read the file's lines into the pack; False (nothing kept) when they come to more
        than PACK_MAX_READ or a chunk (gzip inflates): it is read alone, streamed."""
        chunks, size = [], 0
        limit = min(PACK_MAX_READ, ctx.chunk_bytes)
        for chunk in source.iter_line_chunks(ctx.chunk_bytes, ctx.max_line_bytes):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return False
        self.sources.append(source)
        self.chunks += chunks
        self.starts.append(self.starts[-1] + sum(c.count(b"\n") for c in chunks))
        self.bytes += size
        return True

    def read(self, ctx: ReadContext, task: str | None) -> list[Unpacked]:
        """Decode the pack once; what each file holds, in order."""
        lines = PackedLines(b"".join(self.chunks), self.starts, f"{len(self.sources)} files")
        records: list[list[pl.DataFrame]] = [[] for _ in self.sources]
        quarantined: list[list[Quarantined]] = [[] for _ in self.sources]
        files = [
            Unpacked(s, self.fmt.name, RECORD_SCHEMA.to_frame(), q)
            for s, q in zip(self.sources, quarantined, strict=True)
        ]
        for batch in self.fmt.read(lines, ctx):  # type: ignore[arg-type]
            # a packable format gives no skipped counts or warnings; were one to, none are lost
            for reason, n in batch.skipped.items():
                files[0].skipped[reason] = files[0].skipped.get(reason, 0) + n
            files[0].warnings += batch.warnings
            self._split(batch, lines, task, records, quarantined)
        for file, own in zip(files, records, strict=True):
            if own:
                file.records = own[0] if len(own) == 1 else pl.concat(own)
        return files

    def _split(self, batch: Batch, lines: PackedLines, task, records, quarantined) -> None:
        """The batch's records and unreadable lines to their files, numbered within them."""
        for q in batch.quarantined:
            i = lines.part(q.line)
            quarantined[i].append(Quarantined(q.line - self.starts[i], q.reason, q.raw))
        if batch.records.height == 0:
            return
        frame = finalize(
            batch.records, source_format=self.fmt.name, task=task, native_id=self.fmt.native_id
        )
        starts = pl.Series(self.starts[1:], dtype=pl.Int64)
        part = starts.search_sorted(frame["source_line"], side="left").alias("_part")
        names = pl.Series([s.name for s in self.sources], dtype=pl.String)
        before = pl.Series(self.starts[:-1], dtype=pl.Int64)
        frame = frame.with_columns(
            names.gather(part).alias("source"),
            (pl.col("source_line") - before.gather(part)).alias("source_line"),
            part,
        )
        for (i,), own in frame.partition_by("_part", as_dict=True, maintain_order=True).items():
            records[i].append(own.drop("_part"))


def local_units(outputs, ctx: ReadContext, task: str | None) -> Iterator[Any]:
    """The local engine's inputs in order, as what reads them: a list of Unpacked (a pack,
    decoded), or an (item, format) to stream alone. A file that cannot be read ends it, after
    the pack of the files before it."""
    pack: Pack | None = None
    for item, fmt in outputs:
        if pack is not None and (not packable(item, fmt, ctx) or not pack.takes(fmt)):
            yield pack.read(ctx, task)
            pack = None
        if not packable(item, fmt, ctx):
            yield item, fmt
            continue
        pack = pack or Pack(fmt, ctx.chunk_bytes)
        try:
            loaded = pack.load(item, ctx)
        except CurateError:
            if pack.sources:
                yield pack.read(ctx, task)
            raise
        if not loaded:
            if pack.sources:
                yield pack.read(ctx, task)
            pack = None
            yield item, fmt
        elif pack.full:
            yield pack.read(ctx, task)
            pack = None
    if pack is not None and pack.sources:
        yield pack.read(ctx, task)
