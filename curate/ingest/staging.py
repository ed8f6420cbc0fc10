"""What ingest holds before it commits: the records of the sources read, deduplicated by
record_id against the workspace and this run, and their quarantine rows; staged aside as
Parquet parts and committed atomically (Workspace.commit), many small sources in one commit."""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from curate.core.records import QUARANTINE_SCHEMA, RECORD_SCHEMA
from curate.core.workspace import Workspace, now_utc
from curate.ingest.reading import Parsed
from curate.ingest.references import apply_references
from curate.ingest.results import IngestResult, SourceSummary


class Staging:
    """Parquet parts written aside, moved into their table only when a source is complete.

    Each write is a part of its own, written by polars (zstd level 1: about half the time of
    pyarrow's writer at its defaults, on a million records)."""

    def __init__(self, workspace: Workspace, table: str, schema: pl.Schema):
        self.workspace, self.table, self.schema = workspace, table, schema
        self.folder = workspace.table_dir(table) / f".staging-{uuid.uuid4().hex[:12]}"
        self.paths: list[Path] = []
        self.rows = 0
        self.handed_over = False  # finished: its files belong to a commit now

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"part-{len(self.paths):06d}.parquet"
        frame.select(self.schema.names()).cast(dict(self.schema)).write_parquet(
            path, compression="zstd", compression_level=1
        )
        self.paths.append(path)
        self.rows += frame.height

    def finish(
        self, transform: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None
    ) -> list[tuple[Path, Path]]:
        """The moves that put the staged parts (through `transform`, a lazy step, if given)
        into their table, for Workspace.commit; none when there is nothing to add."""
        if not self.paths:
            return []
        self.handed_over = True
        if transform is not None:
            finished = transform(pl.scan_parquet(self.paths)).collect()
            if finished.height == 0:
                return []
            done = self.folder / "finished.parquet"
            finished.write_parquet(done)
            self.paths = [done]
        return [(path, self.workspace.part_path(self.table)) for path in self.paths]

    def discard(self, committed: bool = False) -> None:
        """Remove what is left aside; finished parts stay for their commit unless committed
        (an interrupted commit is rolled forward from its journal by the next command)."""
        if committed or not self.handed_over:
            shutil.rmtree(self.folder, ignore_errors=True)


def clear_stale_staging(workspace: Workspace) -> None:
    """Remove what an interrupted run left aside (its sources were not committed)."""
    for table in ("records", "quarantine"):
        for stale in workspace.table_dir(table).glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)


def _count(counter: Counter[str], values: pl.Series) -> None:
    if values.len() < 1000:  # a small file's batch: a polars call would cost more than it
        counter.update("(none)" if v is None else v for v in values.to_list())
        return
    for value, n in values.fill_null("(none)").value_counts().iter_rows():
        counter[value] += n


class IngestState:
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
        self._staged: list[Staging] = []

    def _new(self, records: pl.DataFrame, summary: SourceSummary, counts) -> pl.DataFrame:
        """The batch's records not seen before (in the workspace or this run)."""
        if self.refs is not None:
            records, matched = apply_references(records, self.refs)
            self.matched_refs.update(matched)
        # one pass in Python: a batch's first row of each record_id, and whether it is new (a
        # small file's batch costs microseconds here, where unique + anti-join cost a millisecond)
        seen, batch = self.seen, set()
        first, fresh = [], []
        for rid in records["record_id"].to_list():
            is_first = rid not in batch
            batch.add(rid)
            first.append(is_first)
            fresh.append(is_first and rid not in seen)
        is_new = pl.Series(fresh, dtype=pl.Boolean)
        new = records.filter(is_new)
        if self.refs is not None:
            # records already here keep the reference they were stored with unless corrected:
            # what this run's references say of them is checked against the workspace at the end
            again = pl.Series(first, dtype=pl.Boolean) & ~is_new
            given = records.filter(again & pl.col("source_id").is_in(matched))
            self.given_refs.append(given.select("record_id", "reference"))
        summary.duplicates += records.height - new.height
        summary.ingested += new.height
        seen.update(batch)
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
            staging = Staging(self.workspace, "records", RECORD_SCHEMA)
            quarantine = Staging(self.workspace, "quarantine", QUARANTINE_SCHEMA)
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
        pull = {"pull": summary.pull} if summary.pull else {}
        return pull | {
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
        records = Staging(self.workspace, "records", RECORD_SCHEMA)
        quarantine = Staging(self.workspace, "quarantine", QUARANTINE_SCHEMA)
        self._staged += [records, quarantine]
        if self._records:
            records.write(pl.concat(self._records, how="vertical_relaxed"))
        if self._quarantine:
            quarantine.write(pl.concat(self._quarantine))
        moves = records.finish() + quarantine.finish(self._new_quarantine_rows)
        self._finish([e for e, _ in self._entries], [s for _, s in self._entries], moves)
        self._records, self._quarantine, self._entries, self._bytes = [], [], [], 0

    def _commit_staged(self, location, summary, staging: Staging, quarantine: Staging) -> None:
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
