"""The ingest stage: log files in, canonical records out (workspace tables records/, quarantine/).

Each source is read in chunks (memory stays bounded), its records deduplicated by record_id
against the workspace, and committed atomically when the source is done: an interrupted run
leaves no half-written source, and re-running it adds only what is missing.
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow.parquet as pq

from curate.core.engine import Engine, is_remote
from curate.core.errors import CurateError, InputError
from curate.core.project import Project
from curate.core.records import QUARANTINE_SCHEMA, RECORD_SCHEMA, finalize
from curate.core.workspace import Workspace, now_utc
from curate.ingest.formats import available as available_formats
from curate.ingest.formats import detect_format, get_format
from curate.ingest.formats.base import MAX_LINE_BYTES, LogFormat, Quarantined, ReadContext, Source
from curate.ingest.inputs import expand_inputs, local_copy

T = TypeVar("T")

# (source display name, bytes just read, total bytes of the source)
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class SourceSummary:
    path: str
    format: str
    sha256: str = ""
    ingested: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    requests: int = 0  # Batch input files: requests read to join with their outputs


@dataclass
class IngestResult:
    """What one `curate ingest` did, in numbers (the CLI prints it; --json dumps it)."""

    ingested: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    by_format: dict[str, int] = field(default_factory=dict)
    by_task: dict[str, int] = field(default_factory=dict)
    by_model: dict[str, int] = field(default_factory=dict)
    references: dict[str, int] = field(default_factory=dict)
    sources: list[SourceSummary] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    engine: str = "local"

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "ingested": self.ingested,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "skipped": self.skipped,
            "by_format": self.by_format,
            "by_task": self.by_task,
            "by_model": self.by_model,
            "references": self.references,
            "sources": [vars(s) for s in self.sources],
            "warnings": self.warnings,
        }


def load_references(path: str | Path) -> pl.DataFrame:
    """A references file (CSV, JSONL or Parquet with columns id, reference) as (id, reference)."""
    source = Source(path)
    name = source.name.lower()
    try:
        if name.endswith(".parquet") or source.sample().head[:4] == b"PAR1":
            frame = pl.read_parquet(source.path)
        elif name.endswith((".jsonl", ".ndjson", ".json")):
            frame = pl.read_ndjson(source.read_all(), infer_schema_length=None)
        else:
            frame = pl.read_csv(source.read_all(), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise InputError(
            f"{source.display}: cannot be read as a references table ({exc})."
        ) from None
    missing = {"id", "reference"} - set(frame.columns)
    if missing:
        raise InputError(
            f"{source.display}: a references file needs the columns `id` and `reference`; "
            f"missing {', '.join(sorted(missing))} (found: {', '.join(frame.columns)})."
        )
    frame = frame.select(
        pl.col("id").cast(pl.String).alias("source_id"),
        pl.col("reference").cast(pl.String).alias("_ref"),
    ).filter(pl.col("source_id").is_not_null())
    duplicated = frame.filter(pl.col("source_id").is_duplicated())
    if duplicated.height:
        first = duplicated["source_id"][0]
        raise InputError(
            f"{source.display}: id {first!r} appears more than once "
            f"({duplicated['source_id'].n_unique()} ids do); keep one reference per id."
        )
    return frame


class _Staging:
    """Parquet parts written aside, moved into their table only when a source is complete."""

    def __init__(self, workspace: Workspace, table: str, schema: pl.Schema):
        self.workspace, self.table, self.schema = workspace, table, schema
        self.folder = workspace.table_dir(table) / f".staging-{uuid.uuid4().hex[:12]}"
        self.writer: pq.ParquetWriter | None = None
        self.path: Path | None = None
        self.rows = 0
        self.handed_over = False  # finished: its file belongs to a commit now

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        table = frame.select(self.schema.names()).to_arrow()
        if self.writer is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.path = self.folder / "part.parquet"
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self.writer.write_table(table)
        self.rows += frame.height

    def finish(
        self, transform: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None
    ) -> list[tuple[Path, Path]]:
        """Close the staged part (through `transform`, a lazy step, if given): the move that
        puts it into its table, for Workspace.commit; none when there is nothing to add."""
        if self.writer is None:
            return []
        self.writer.close()
        self.writer = None
        self.handed_over = True
        assert self.path is not None
        if transform is not None:
            finished = transform(pl.scan_parquet(self.path)).collect()
            if finished.height == 0:
                return []
            done = self.folder / "finished.parquet"
            finished.write_parquet(done)
            self.path = done
        return [(self.path, self.workspace.part_path(self.table))]

    def discard(self, committed: bool = False) -> None:
        """Remove what is left aside; a finished part stays for its commit unless committed
        (an interrupted commit is rolled forward from its journal by the next command)."""
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        if committed or not self.handed_over:
            shutil.rmtree(self.folder, ignore_errors=True)


def _clear_stale_staging(workspace: Workspace) -> None:
    """Remove what an interrupted run left aside (its sources were not committed)."""
    for table in ("records", "quarantine"):
        for stale in workspace.table_dir(table).glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)


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


def _count(counter: dict[str, int], values: pl.Series) -> None:
    for value, n in values.fill_null("(none)").value_counts().iter_rows():
        counter[value] = counter.get(value, 0) + n


def ingest_logs(
    project: Project,
    paths: Iterable[str | Path],
    *,
    format_name: str = "auto",
    task: str | None = None,
    references: str | Path | None = None,
    field_map: dict[str, str] | None = None,
    progress: ProgressCallback | None = None,
    engine: Engine | None = None,
) -> IngestResult:
    """Read log files into the workspace's records; bad rows go to quarantine, none are lost.

    Paths may be globs (expanded here) and s3:// URLs (see curate/ingest/inputs.py). Files in one
    call that are OpenAI Batch input files are joined to the Batch output files of the same
    call. Records whose record_id is already in the workspace are counted as duplicates and
    not added again. With the daft engine, files are read in parallel (on all cores or a Ray
    cluster); the records, quarantine and counts are the same as the local engine's.
    """
    workspace, config = project.workspace, project.config
    engine = engine or project.engine()
    if task is not None:
        config.require_task(task)
    chunk_mb = config.section("ingest").get("chunk_mb", 32)
    # at least one byte: a reader of 0-byte blocks would read nothing and say nothing
    chunk_bytes = max(int(chunk_mb * (1 << 20)), 1)
    max_line = int(config.section("ingest").get("max_line_mb", MAX_LINE_BYTES >> 20) * (1 << 20))
    ctx = ReadContext(
        chunk_bytes=chunk_bytes, field_map=dict(field_map or {}), max_line_bytes=max(max_line, 1)
    )
    refs = load_references(references) if references is not None else None
    progress = progress or (lambda name, n, total: None)

    def source_of(path: str | Path, url: str | None = None) -> Source:
        holder: dict[str, Source] = {}
        src = Source(path, lambda n: progress(holder["s"].display, n, holder["s"].size), url=url)
        holder["s"] = src
        return src

    expanded = expand_inputs(list(paths), engine)
    if not expanded:
        raise InputError("no input files given: curate ingest PATH [PATH ...]")
    fixed: LogFormat | None = None
    if field_map:
        fixed = get_format("table")
    elif format_name != "auto":
        fixed = get_format(format_name)
    # local files are opened and their format found now, so a wrong path fails before any
    # work; objects in a store are fetched (and their format found) when they are read
    inputs: list[tuple[str | Source, LogFormat | None]] = []
    for path in expanded:
        if is_remote(path):
            inputs.append((str(path), fixed))
        else:
            source = source_of(path)
            inputs.append((source, fixed or detect_format(source)))
    # side inputs (a Batch API input file) are read first, into the context of the files they
    # complete; a side input without such a file has nothing to complete
    side_inputs = [(s, f) for s, f in inputs if f is not None and f.completes]
    outputs = [(s, f) for s, f in inputs if f is None or not f.completes]
    for source, fmt in side_inputs:
        if not any(f is not None and f.name == fmt.completes for _, f in outputs):
            raise InputError(f"{source.display} is {fmt.side_input}")
    workspace.create()
    result = IngestResult(engine=engine.describe())
    args = _args([str(p) for p in expanded], format_name, task, references, field_map)
    args["engine"] = engine.kind
    with workspace.stage("ingest", args) as run:
        workspace.require_record_identity(
            {f.name for f in available_formats().values() if f.native_id == "request"}
        )
        _clear_stale_staging(workspace)
        state = _IngestState(workspace, task, refs, result, ctx.chunk_bytes)
        try:
            for source, fmt in side_inputs:
                entries, bad = fmt.read_side(source, ctx)
                summary = SourceSummary(source.display, fmt.name, source.sha256)
                summary.quarantined, summary.requests = len(bad), entries
                quarantined = _quarantine_frame(source, fmt.name, bad)
                state.add(source.location, summary, [], [quarantined])
            for parsed in _read_outputs(outputs, ctx, task, engine, source_of, progress):
                state.add_parsed(parsed)
                read = parsed.summary.ingested + parsed.summary.duplicates
                read += parsed.summary.quarantined
                if parsed.summary.quarantined and parsed.summary.quarantined >= 0.2 * read:
                    result.warnings.append(
                        f"{parsed.summary.path}: {parsed.summary.quarantined} of {read} rows could "
                        f"not be read as {parsed.summary.format}; if that format is wrong, name "
                        "the right one with --format (see `curate formats`), and see the reasons "
                        "with `curate quarantine`"
                    )
        except CurateError as exc:
            state.commit()  # the files read completely before this one are kept
            if state.sources_done:
                exc.args = (
                    f"{exc.args[0]}\n({state.sources_done} file(s) before it were ingested and "
                    "kept; once this one is fixed, the same command adds only what is missing)",
                )
            raise
        finally:
            state.discard()
        state.commit()
        if refs is not None:
            matched = len(state.matched_refs)
            given = pl.concat([pl.DataFrame(schema=_REF_SCHEMA), *state.given_refs])
            corrected = correct_references(workspace, given)
            result.references = {
                "given": refs.height,
                "matched": matched,
                "unmatched": refs.height - matched,
                "corrected": corrected,
            }
            if corrected:
                result.warnings.append(
                    f"{corrected} records already in the workspace had another reference: they "
                    f"now have the one in {Path(str(references)).name}; run `curate detect` "
                    "again (`curate run` does) so the findings follow"
                )
            if refs.height - matched:
                result.warnings.append(
                    f"{refs.height - matched} of {refs.height} references match no "
                    "record ingested in this run (their ids are not a source_id here)"
                )
        run.counts = result.to_dict() | {"sources": len(result.sources)}
    return result


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


def _read_outputs(
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
        for item, fmt in outputs:
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


def _finalized(
    batch, source: Source, fmt: LogFormat, task: str | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    unreadable = _quarantine_frame(source, fmt.name, batch.quarantined)
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


class _IngestState:
    """The sources read so far in this run: their new records (deduplicated by record_id),
    quarantine rows and manifest entries, committed together in groups.

    A big source (over a chunk) streams into staged parts and is committed on its own, as
    soon as it is read. Small ones are kept in memory and committed together, one part for
    many files, when they add up to a chunk: a thousand small files make a handful of parts
    and commits, not a thousand. An interrupted run loses only the group it was filling;
    running it again adds what is missing.
    """

    def __init__(self, workspace, task, refs, result: IngestResult, chunk_bytes: int):
        self.workspace, self.task, self.refs, self.result = workspace, task, refs, result
        self.chunk_bytes = chunk_bytes
        # every record_id in the workspace or read in this run: a set, so that checking a
        # batch costs its own size, not the workspace's (5M records in 500 files: 150 s of
        # anti-joins against a growing frame otherwise)
        self.seen: set[str] = set(workspace.record_ids()["record_id"].to_list())
        self.quarantine_keys = [
            workspace.scan("quarantine").select("source_sha256", "line").collect()
        ]
        self.matched_refs: set[str] = set()
        self.given_refs: list[pl.DataFrame] = []  # (record_id, reference) of records seen before
        self.sources_done = 0
        self._records: list[pl.DataFrame] = []
        self._quarantine: list[pl.DataFrame] = []
        self._entries: list[tuple[dict[str, Any], SourceSummary]] = []
        self._bytes = 0
        self._staged: list[_Staging] = []

    def _new(self, records: pl.DataFrame, summary: SourceSummary, counts) -> pl.DataFrame:
        """The batch's records not seen before (in the workspace or this run)."""
        if self.refs is not None:
            records, matched = _apply_references(records, self.refs)
            self.matched_refs.update(matched)
        unique = records.unique("record_id", keep="first", maintain_order=True)
        seen = self.seen
        ids = unique["record_id"].to_list()
        is_new = pl.Series([rid not in seen for rid in ids], dtype=pl.Boolean)
        new = unique.filter(is_new)
        if self.refs is not None:
            # records already here keep the reference they were stored with unless corrected:
            # what this run's references say of them is checked against the workspace at the end
            given = unique.filter(~is_new & pl.col("source_id").is_in(matched))
            self.given_refs.append(given.select("record_id", "reference"))
        summary.duplicates += records.height - new.height
        summary.ingested += new.height
        seen.update(new["record_id"].to_list())
        for key, column in (
            ("by_format", "source_format"),
            ("by_task", "task"),
            ("by_model", "model"),
        ):
            _count(counts[key], new[column])
        return new

    def add_parsed(self, parsed: Parsed) -> None:
        """A source, read: a big one is staged and committed on its own as it is read; a small
        one is held for the next group commit."""
        counts = {"by_format": Counter(), "by_task": Counter(), "by_model": Counter()}
        batches = self._new_batches(parsed, counts)
        if parsed.size > self.chunk_bytes:
            self.commit()  # what came before stays first
            staging = _Staging(self.workspace, "records", RECORD_SCHEMA)
            quarantine = _Staging(self.workspace, "quarantine", QUARANTINE_SCHEMA)
            self._staged += [staging, quarantine]
            for records, unreadable in batches:
                quarantine.write(unreadable)
                staging.write(records)
            self._count(counts, parsed.warnings)
            self._commit_staged(parsed.location, parsed.summary, staging, quarantine)
            return
        held = list(batches)
        self._count(counts, parsed.warnings)
        records, unreadable = [r for r, _ in held], [q for _, q in held]
        self.add(parsed.location, parsed.summary, records, unreadable, parsed.size)

    def _new_batches(self, parsed: Parsed, counts) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
        """The source's batches: its records not seen before, and its unreadable rows."""
        for records, unreadable in parsed.batches:
            parsed.summary.quarantined += unreadable.height
            new = self._new(records, parsed.summary, counts) if records.height else records
            yield new, unreadable

    def _count(self, counts, warnings: list[str]) -> None:
        self.result.warnings += warnings
        for key, counter in counts.items():
            for value, n in counter.items():
                getattr(self.result, key)[value] = getattr(self.result, key).get(value, 0) + n

    def add(
        self,
        location: str,
        summary: SourceSummary,
        records: list[pl.DataFrame],
        unreadable: list[pl.DataFrame],
        size: int = 0,
    ) -> None:
        """A source read completely, held for the next group commit."""
        sha = pl.lit(summary.sha256).alias("source_sha256")
        self._records += [r for r in records if r.height]
        self._quarantine += [q.with_columns(sha) for q in unreadable if q.height]
        self._entries.append((self._entry(location, summary), summary))
        self.sources_done += 1
        self._bytes += size
        if self._bytes >= self.chunk_bytes or len(self._entries) >= 1000:
            self.commit()

    def _entry(self, location: str, summary: SourceSummary) -> dict[str, Any]:
        return {
            "path": location,
            "sha256": summary.sha256,
            "format": summary.format,
            "task": self.task,
            "rows": summary.ingested,
            "duplicates": summary.duplicates,
            "quarantined": summary.quarantined,
            "skipped": summary.skipped,
            "requests": summary.requests or None,
            "ingested_at": now_utc().isoformat(),
        }

    def commit(self) -> None:
        """Commit the held sources: one records part, one quarantine part, their entries."""
        if not self._entries:
            return
        records = _Staging(self.workspace, "records", RECORD_SCHEMA)
        quarantine = _Staging(self.workspace, "quarantine", QUARANTINE_SCHEMA)
        self._staged += [records, quarantine]
        if self._records:
            records.write(pl.concat(self._records, how="vertical_relaxed"))
        if self._quarantine:
            quarantine.write(pl.concat(self._quarantine))
        moves = records.finish() + quarantine.finish(self._new_quarantine_rows)
        self._finish([e for e, _ in self._entries], [s for _, s in self._entries], moves)
        self._records, self._quarantine, self._entries, self._bytes = [], [], [], 0

    def _commit_staged(self, location, summary, staging: _Staging, quarantine: _Staging) -> None:
        stamp = pl.lit(summary.sha256).alias("source_sha256")
        moves = staging.finish() + quarantine.finish(
            lambda staged: self._new_quarantine_rows(staged.with_columns(stamp))
        )
        self.sources_done += 1
        self._finish([self._entry(location, summary)], [summary], moves)

    def _new_quarantine_rows(self, staged: pl.LazyFrame) -> pl.LazyFrame:
        """Only rows not quarantined before (by an earlier run, or a copy of the file)."""
        return staged.unique(["source_sha256", "line"], keep="first", maintain_order=True).join(
            pl.concat(self.quarantine_keys).lazy(),
            on=["source_sha256", "line"],
            how="anti",
            maintain_order="left",
        )

    def _finish(self, entries, summaries: list[SourceSummary], moves) -> None:
        self.workspace.commit(moves, entries)
        self.quarantine_keys += [
            pl.read_parquet(dst, columns=["source_sha256", "line"])
            for _, dst in moves
            if "quarantine" in dst.parts
        ]
        for staged in self._staged:
            staged.discard(committed=True)
        self._staged = []
        result = self.result
        for summary in summaries:
            result.sources.append(summary)
            result.ingested += summary.ingested
            result.duplicates += summary.duplicates
            result.quarantined += summary.quarantined
            for reason, n in summary.skipped.items():
                result.skipped[reason] = result.skipped.get(reason, 0) + n

    def discard(self) -> None:
        """Remove what is staged and not committed (a failed run)."""
        for staged in self._staged:
            staged.discard()
        self._staged = []


def _args(paths: list[str], format_name, task, references, field_map) -> dict[str, Any]:
    return {
        "paths": paths,
        "format": format_name,
        "task": task,
        "references": str(references) if references else None,
        "map": field_map or None,
    }


_REF_SCHEMA = {"record_id": pl.String, "reference": pl.String}


def correct_references(workspace: Workspace, given: pl.DataFrame) -> int:
    """Give records already in the workspace the references of `given` (record_id, reference)
    where theirs differ; the number of records changed.

    A records part that holds such a record is written anew beside itself and put in its
    place in one journalled commit, so a reader sees the old part or the new one, whole.
    """
    given = given.unique("record_id", keep="last")
    if given.height == 0:
        return 0
    changed = 0
    for part in workspace.parts("records"):
        stored = pl.scan_parquet(part).select("record_id", "reference")
        differ = (
            stored.join(given.lazy(), on="record_id", suffix="_given")
            .filter(pl.col("reference").ne_missing(pl.col("reference_given")))
            .select("record_id", "reference_given")
            .collect()
        )
        if differ.height == 0:
            continue
        frame = pl.read_parquet(part)
        updated = frame.join(differ, on="record_id", how="left", maintain_order="left")
        updated = updated.with_columns(
            pl.coalesce("reference_given", "reference").alias("reference")
        ).select(frame.columns)
        # staged where an interrupted run's leftovers are cleared (_clear_stale_staging)
        folder = workspace.table_dir("records") / f".staging-{uuid.uuid4().hex[:12]}"
        folder.mkdir()
        updated.write_parquet(folder / "part.parquet")
        workspace.commit([(folder / "part.parquet", part)], [])
        folder.rmdir()
        changed += differ.height
    return changed


def _apply_references(records: pl.DataFrame, refs: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    joined = records.join(refs, on="source_id", how="left", maintain_order="left")
    matched = joined.filter(pl.col("_ref").is_not_null())["source_id"].to_list()
    joined = joined.with_columns(
        pl.coalesce(pl.col("_ref"), pl.col("reference")).alias("reference")
    )
    return joined.drop("_ref"), matched


def _quarantine_frame(source: Source, format_name: str, rows: list[Quarantined]) -> pl.DataFrame:
    """Unreadable rows as a quarantine frame, one row per line (its first reason); the file's
    sha256 is filled in at commit."""
    seen: set[int] = set()
    rows = [q for q in rows if not (q.line in seen or seen.add(q.line))]
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


__all__ = ["IngestResult", "ingest_logs", "load_references"]
