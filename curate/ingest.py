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

from curate.errors import CurateError, InputError
from curate.formats import detect_format, get_format
from curate.formats.base import Quarantined, ReadContext, Source
from curate.formats.openai_batch import OpenAIBatchInput, read_batch_requests
from curate.project import Project
from curate.records import QUARANTINE_SCHEMA, RECORD_SCHEMA, finalize
from curate.workspace import Workspace, now_utc

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

    def to_dict(self) -> dict[str, Any]:
        return {
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

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(("done", None))
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(("error", exc))

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
) -> IngestResult:
    """Read log files into the workspace's records; bad rows go to quarantine, none are lost.

    Files in one call that are OpenAI Batch input files are joined to the Batch output files of
    the same call. Records whose record_id is already in the workspace are counted as duplicates
    and not added again.
    """
    workspace, config = project.workspace, project.config
    if task is not None:
        config.require_task(task)
    chunk_mb = config.section("ingest").get("chunk_mb", 32)
    ctx = ReadContext(chunk_bytes=int(chunk_mb * (1 << 20)), field_map=dict(field_map or {}))
    refs = load_references(references) if references is not None else None
    progress = progress or (lambda name, n, total: None)

    def source_of(path: str | Path) -> Source:
        holder: dict[str, Source] = {}
        src = Source(path, progress=lambda n: progress(holder["s"].display, n, holder["s"].size))
        holder["s"] = src
        return src

    sources = [source_of(p) for p in paths]
    if not sources:
        raise InputError("no input files given: curate ingest PATH [PATH ...]")
    if field_map:
        formats = [get_format("table")] * len(sources)
    elif format_name != "auto":
        formats = [get_format(format_name)] * len(sources)
    else:
        formats = [detect_format(s) for s in sources]

    batch_inputs = [
        (s, f) for s, f in zip(sources, formats, strict=True) if isinstance(f, OpenAIBatchInput)
    ]
    outputs = [
        (s, f) for s, f in zip(sources, formats, strict=True) if not isinstance(f, OpenAIBatchInput)
    ]
    if batch_inputs and not any(f.name == "openai_batch" for _, f in outputs):
        raise InputError(
            f"{batch_inputs[0][0].display} is an OpenAI Batch API input file (requests only); "
            "give its output file in the same command: curate ingest OUTPUT.jsonl INPUT.jsonl"
        )
    workspace.create()
    result = IngestResult()
    args = _args([s.display for s in sources], format_name, task, references, field_map)
    # each source is committed on its own as it is done (see _commit_source)
    with workspace.stage("ingest", args) as run:
        _clear_stale_staging(workspace)
        seen = [workspace.record_ids()]
        quarantine_keys = [workspace.scan("quarantine").select("source_sha256", "line").collect()]
        done_sources = 0
        try:
            for source, _ in batch_inputs:
                requests, bad = read_batch_requests(source, ctx)
                ctx.batch_requests.update(requests)
                summary = SourceSummary(source.display, "openai_batch_input", source.sha256)
                summary.quarantined, summary.requests = len(bad), len(requests)
                staged = _Staging(workspace, "quarantine", QUARANTINE_SCHEMA)
                staged.write(_quarantine_frame(source, "openai_batch_input", bad))
                _commit_source(
                    workspace, source, summary, task, result, [], staged, quarantine_keys
                )
                staged.discard(committed=True)
                done_sources += 1
            matched_refs: set[str] = set()
            for source, fmt in outputs:
                summary = _read_source(
                    workspace,
                    source,
                    fmt,
                    ctx,
                    task,
                    refs,
                    seen,
                    matched_refs,
                    result,
                    quarantine_keys,
                )
                read = summary.ingested + summary.duplicates + summary.quarantined
                if summary.quarantined and summary.quarantined >= 0.2 * read:
                    result.warnings.append(
                        f"{source.display}: {summary.quarantined} of {read} rows could not be "
                        f"read as {fmt.name}; if that format is wrong, name the right one with "
                        "--format (see `curate formats`), and see the reasons with "
                        "`curate quarantine`"
                    )
                done_sources += 1
        except CurateError as exc:
            if done_sources:
                exc.args = (
                    f"{exc.args[0]}\n({done_sources} file(s) before it were ingested and kept; "
                    "once this one is fixed, the same command adds only what is missing)",
                )
            raise
        if refs is not None:
            result.references = {
                "given": refs.height,
                "matched": len(matched_refs),
                "unmatched": refs.height - len(matched_refs),
            }
            if refs.height - len(matched_refs):
                result.warnings.append(
                    f"{refs.height - len(matched_refs)} of {refs.height} references match no "
                    "record ingested in this run (their ids are not a source_id here)"
                )
        run.counts = result.to_dict() | {"sources": len(result.sources)}
    return result


def _read_source(
    workspace: Workspace,
    source: Source,
    fmt,
    ctx: ReadContext,
    task: str | None,
    refs: pl.DataFrame | None,
    seen: list[pl.DataFrame],
    matched_refs: set[str],
    result: IngestResult,
    quarantine_keys: list[pl.DataFrame],
) -> SourceSummary:
    """Read one source into staged parts and commit them, with its manifest entry, as one unit."""
    summary = SourceSummary(source.display, fmt.name)
    staging = _Staging(workspace, "records", RECORD_SCHEMA)
    staged_quarantine = _Staging(workspace, "quarantine", QUARANTINE_SCHEMA)
    skipped: Counter[str] = Counter()
    counts = {"by_format": Counter(), "by_task": Counter(), "by_model": Counter()}
    warnings: list[str] = []
    committed = False
    try:
        for batch in prefetch(fmt.read(source, ctx)):
            unreadable = _quarantine_frame(source, fmt.name, batch.quarantined)
            summary.quarantined += unreadable.height
            staged_quarantine.write(unreadable)
            skipped.update(batch.skipped)
            warnings += batch.warnings
            if batch.records.height == 0:
                continue
            records = finalize(batch.records, source_format=fmt.name, task=task)
            records = records.with_columns(pl.lit(source.name).alias("source"))
            if refs is not None:
                records, matched = _apply_references(records, refs)
                matched_refs.update(matched)
            unique = records.unique("record_id", keep="first", maintain_order=True)
            new = unique.join(
                pl.concat(seen, rechunk=False), on="record_id", how="anti", maintain_order="left"
            )
            summary.duplicates += records.height - new.height
            summary.ingested += new.height
            seen.append(new.select("record_id"))
            staging.write(new)
            for key, column in (
                ("by_format", "source_format"),
                ("by_task", "task"),
                ("by_model", "model"),
            ):
                _count(counts[key], new[column])
        summary.sha256 = source.sha256
        summary.skipped = {k: v for k, v in skipped.items() if v}
        result.warnings += warnings
        for key, counter in counts.items():
            for value, n in counter.items():
                getattr(result, key)[value] = getattr(result, key).get(value, 0) + n
        _commit_source(
            workspace,
            source,
            summary,
            task,
            result,
            staging.finish(),
            staged_quarantine,
            quarantine_keys,
        )
        committed = True
    finally:
        staging.discard(committed)
        staged_quarantine.discard(committed)
    return summary


def _args(paths: list[str], format_name, task, references, field_map) -> dict[str, Any]:
    return {
        "paths": paths,
        "format": format_name,
        "task": task,
        "references": str(references) if references else None,
        "map": field_map or None,
    }


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


def _new_quarantine_rows(sha256: str, existing: pl.DataFrame):
    """At commit: stamp the file's sha256, keep only rows not quarantined by an earlier run."""

    def finish(staged: pl.LazyFrame) -> pl.LazyFrame:
        stamped = staged.with_columns(pl.lit(sha256).alias("source_sha256"))
        return stamped.join(
            existing.lazy(), on=["source_sha256", "line"], how="anti", maintain_order="left"
        )

    return finish


def _commit_source(
    workspace: Workspace,
    source: Source,
    summary: SourceSummary,
    task: str | None,
    result: IngestResult,
    record_moves: list[tuple[Path, Path]],
    staged_quarantine: _Staging,
    quarantine_keys: list[pl.DataFrame],
) -> None:
    """Commit a source's records, its new quarantine rows and its manifest entry together."""
    quarantine_moves = staged_quarantine.finish(
        _new_quarantine_rows(summary.sha256, pl.concat(quarantine_keys))
    )
    new_keys = [
        pl.read_parquet(src, columns=["source_sha256", "line"]) for src, _ in quarantine_moves
    ]
    entry = {
        "path": str(source.path.resolve()),
        "sha256": summary.sha256,
        "format": summary.format,
        "task": task,
        "rows": summary.ingested,
        "duplicates": summary.duplicates,
        "quarantined": summary.quarantined,
        "skipped": summary.skipped,
        "requests": summary.requests or None,
        "ingested_at": now_utc().isoformat(),
    }
    workspace.commit(record_moves + quarantine_moves, [entry])
    quarantine_keys += new_keys
    result.sources.append(summary)
    result.ingested += summary.ingested
    result.duplicates += summary.duplicates
    result.quarantined += summary.quarantined
    for reason, n in summary.skipped.items():
        result.skipped[reason] = result.skipped.get(reason, 0) + n


__all__ = ["IngestResult", "ingest_logs", "load_references"]
