"""The ingest stage: log files in, canonical records out (workspace tables records/, quarantine/).

Each source is read in chunks (memory stays bounded), its records deduplicated by record_id
against the workspace, and committed atomically when the source is done: an interrupted run
leaves no half-written source, and re-running it adds only what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from curate.core.engine import Engine, is_remote
from curate.core.errors import CurateError, InputError
from curate.core.project import Project
from curate.ingest.formats import available as available_formats
from curate.ingest.formats import detect_format, get_format
from curate.ingest.formats.base import MAX_LINE_BYTES, LogFormat, ReadContext, Source
from curate.ingest.inputs import expand_inputs
from curate.ingest.reading import ProgressCallback, quarantine_frame, read_outputs
from curate.ingest.references import REF_SCHEMA, correct_references, load_references
from curate.ingest.results import IngestResult, SourceSummary
from curate.ingest.staging import IngestState, clear_stale_staging


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
    ctx = _read_context(config.section("ingest"), field_map)
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
    side_inputs, outputs = _inputs(expanded, format_name, field_map, source_of)
    workspace.create()
    result = IngestResult(engine=engine.describe())
    args = _args([str(p) for p in expanded], format_name, task, references, field_map)
    args["engine"] = engine.kind
    with workspace.stage("ingest", args) as run:
        workspace.require_record_identity(_request_id_formats())
        clear_stale_staging(workspace)
        state = IngestState(workspace, task, refs, result, ctx.chunk_bytes)
        try:
            for source, fmt in side_inputs:
                _add_side_input(state, source, fmt, ctx)
            for parsed in read_outputs(outputs, ctx, task, engine, source_of, progress):
                state.add_parsed(parsed)
                _warn_if_mostly_unreadable(parsed.summary, result)
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
            _correct_references(workspace, refs, state, result, Path(str(references)).name)
        run.counts = result.to_dict() | {"sources": len(result.sources)}
    return result


def ingest_pages(
    project: Project,
    pages: Iterable[tuple[Source, dict[str, Any]]],
    *,
    format_name: str,
    task: str | None = None,
    args: dict[str, Any] | None = None,
) -> IngestResult:
    """Pages fetched from a trace store (`curate pull`) into records, through the same reader
    as files: each page is a source, committed with its manifest entry as soon as it is read.

    Each page comes with what its manifest entry keeps of the pull (`pull`: the pull's name and
    the cursor after the page), committed in the same journalled step as its records: the
    cursor a later pull resumes from is never ahead of the records (a pull killed mid-way
    resumes after the last page committed) nor behind them.
    """
    workspace, config = project.workspace, project.config
    if task is not None:
        config.require_task(task)
    fmt = get_format(format_name)
    ctx = _read_context(config.section("ingest"), None)
    workspace.create()
    result = IngestResult()
    with workspace.stage("ingest", dict(args or {}) | {"format": format_name}) as run:
        workspace.require_record_identity(_request_id_formats())
        clear_stale_staging(workspace)
        state = IngestState(workspace, task, None, result, ctx.chunk_bytes)
        try:
            for source, pull in pages:
                for parsed in read_outputs([(source, fmt)], ctx, task, Engine(), Source, _no):
                    parsed.summary.pull = pull
                    state.add_parsed(parsed)
                state.commit()
        finally:
            state.discard()
        run.counts = result.to_dict() | {"sources": len(result.sources)}
    return result


def _request_id_formats() -> set[str]:
    """The formats whose native id names the request (see Workspace.require_record_identity)."""
    return {f.name for f in available_formats().values() if f.native_id == "request"}


def _no(*_: Any) -> None:
    """No progress by bytes: a pull reports its pages."""


def _read_context(section: dict[str, Any], field_map: dict[str, str] | None) -> ReadContext:
    """[ingest] chunk_mb and max_line_mb, and the --map, as the readers take them."""
    chunk_mb = section.get("chunk_mb", 32)
    # at least one byte: a reader of 0-byte blocks would read nothing and say nothing
    chunk_bytes = max(int(chunk_mb * (1 << 20)), 1)
    max_line = int(section.get("max_line_mb", MAX_LINE_BYTES >> 20) * (1 << 20))
    return ReadContext(
        chunk_bytes=chunk_bytes, field_map=dict(field_map or {}), max_line_bytes=max(max_line, 1)
    )


Inputs = list[tuple[Any, "LogFormat | None"]]


def _inputs(expanded, format_name: str, field_map, source_of) -> tuple[Inputs, Inputs]:
    """(side inputs, the files they complete and the others), each with its format: local
    files are opened and their format found now, so a wrong path fails before any work;
    objects in a store are fetched (and their format found) when they are read."""
    fixed: LogFormat | None = None
    if field_map:
        fixed = get_format("table")
    elif format_name != "auto":
        fixed = get_format(format_name)
    inputs: Inputs = []
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
    return side_inputs, outputs


def _add_side_input(state: IngestState, source: Source, fmt: LogFormat, ctx: ReadContext) -> None:
    entries, bad = fmt.read_side(source, ctx)
    summary = SourceSummary(source.display, fmt.name, source.sha256)
    summary.quarantined, summary.requests = len(bad), entries
    state.add(source.location, summary, [], [quarantine_frame(source, fmt.name, bad)])


def _warn_if_mostly_unreadable(summary: SourceSummary, result: IngestResult) -> None:
    read = summary.ingested + summary.duplicates + summary.quarantined
    if summary.quarantined and summary.quarantined >= 0.2 * read:
        result.warnings.append(
            f"{summary.path}: {summary.quarantined} of {read} rows could not be read as "
            f"{summary.format}; if that format is wrong, name the right one with --format (see "
            "`curate formats`), and see the reasons with `curate quarantine`"
        )


def _correct_references(
    workspace, refs: pl.DataFrame, state: IngestState, result: IngestResult, name: str
) -> None:
    """Records already in the workspace take the references given now; the counts."""
    matched = len(state.matched_refs)
    given = pl.concat([pl.DataFrame(schema=REF_SCHEMA), *state.given_refs])
    corrected = correct_references(workspace, given)
    result.references = {
        "given": refs.height,
        "matched": matched,
        "unmatched": refs.height - matched,
        "corrected": corrected,
    }
    if corrected:
        result.warnings.append(
            f"{corrected} records already in the workspace had another reference: they now "
            f"have the one in {name}; run `curate detect` again (`curate run` does) so the "
            "findings follow"
        )
    if refs.height - matched:
        result.warnings.append(
            f"{refs.height - matched} of {refs.height} references match no record ingested in "
            "this run (their ids are not a source_id here)"
        )


def _args(paths: list[str], format_name, task, references, field_map) -> dict[str, Any]:
    return {
        "paths": paths,
        "format": format_name,
        "task": task,
        "references": str(references) if references else None,
        "map": field_map or None,
    }


__all__ = ["IngestResult", "ingest_logs", "load_references"]
