"""`curate pull`: records straight from a trace store (Phoenix, Langfuse), incrementally.

A pull pages through the store's API and hands each page to ingest as a source of its own, read
by the same format as an exported file (Phoenix spans by `otel`, Langfuse traces by `langfuse`):
the same records, record ids stable across pulls (the span or observation id), unreadable items
quarantined with the item's id. After the pages, feedback made since the calls (Langfuse scores,
Phoenix span annotations) is given to the stored records it is about (feedback.py).

The cursor. Each page's manifest entry carries the cursor after it, committed in the same
journalled step as the page's records: a pull killed mid-way (kill -9, a network error after
the retries) resumes after the last page committed, never ahead of the records, never behind.
The cursor is a key the store assigns in an order that new items cannot land behind:

- Phoenix: the span's row id, given as Phoenix stores the span (`sort=id`). A span that
  arrives late still gets a higher id, where a cursor on its start time (set by the client)
  would step over it.
- Langfuse: the trace's timestamp, then its id (the API offers no insertion order). A trace
  can arrive after later-stamped ones (a client's clock, a queue, and Langfuse's v1 read API
  shows data up to about 10 minutes late): an overlap re-read covers it.

Never `updated_at`: an item updated after the pull (a score added) moves ahead of the cursor and
one updated before it moves behind, and paging by a key that moves while you page skips items.
Every pull re-reads an overlap before its cursor (`[[pulls]] overlap`: 1,000 span ids for
Phoenix, whose ids from several writers can become visible out of order; 10 minutes for
Langfuse); what it re-reads is deduplicated by record id, so a re-pull adds nothing. Items
quarantined before are not quarantined again.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from curate.core.errors import ConfigError
from curate.core.project import Project
from curate.core.workspace import now_utc
from curate.ingest.formats.base import Source
from curate.ingest.pull.client import PullError
from curate.ingest.pull.settings import PullSpec, choose, pull_specs
from curate.ingest.reading import prefetch

# (pull name, items read so far, pages so far)
PullProgress = Callable[[str, int, int], None]


@dataclass
class PullResult:
    """What one pull did (the CLI prints it; --json dumps it); kept in the manifest's pulls."""

    name: str
    kind: str
    base_url: str
    project: str | None
    window: dict[str, Any] = field(default_factory=dict)  # since, until, resumed_after, backfill
    pages: int = 0
    items: int = 0  # items the store gave
    filtered: int = 0  # dropped by [pulls.filter] where the API cannot filter (spans, traces by
    # name, or a trace's generations by model)
    already_quarantined: int = 0  # items quarantined by an earlier pull, not again
    gone: int = 0  # listed by the store, not fetched: deleted since, or listed with no id
    ingested: int = 0
    duplicates: int = 0  # already in the workspace (the overlap re-read, or a re-pull)
    quarantined: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    cursor: Any = None  # after this pull
    feedback_updated: int = 0  # stored records given the feedback of scores made since
    scores_until: str | None = None  # Langfuse: the scores read up to this time
    complete: bool = False  # False: cut off (the pages before are kept; a pull again resumes)
    error: str | None = None
    started_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def open_store(spec: PullSpec):
    if spec.kind == "phoenix":
        from curate.ingest.pull.phoenix import PhoenixStore

        return PhoenixStore(spec)
    from curate.ingest.pull.langfuse import LangfuseStore

    return LangfuseStore(spec)


def store_key(spec: PullSpec) -> dict[str, Any]:
    """What a cursor belongs to: a pull renamed, or pointed at another store or project, starts
    over (its old cursor means nothing there) and deduplicates what it had."""
    return {"name": spec.name, "kind": spec.kind, "store": spec.base_url, "project": spec.project}


def last_cursor(manifest: dict[str, Any], spec: PullSpec) -> Any:
    """The cursor after the last page of this pull committed (None: never pulled)."""
    key = store_key(spec)
    cursors = [
        s["pull"]["cursor"]
        for s in manifest.get("sources", [])
        if isinstance(s.get("pull"), dict)
        and all(s["pull"].get(k) == v for k, v in key.items())
        and s["pull"].get("cursor") is not None
    ]
    return max(cursors, default=None)


def quarantined_items(workspace, name: str) -> set[str]:
    """The items pull `name` quarantined before (their reasons begin with the item)."""
    rows = (
        workspace.scan("quarantine")
        .filter(pl.col("source").str.starts_with(page_prefix(name)))
        .select(pl.col("reason").str.extract(r"^((?:span|trace) [^:]+):", 1))
        .collect()
    )
    return {r for r in rows.to_series().to_list() if r}


def page_prefix(name: str) -> str:
    return f"pull {name}: "


def pull(
    project: Project,
    name: str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: PullProgress | None = None,
) -> list[PullResult]:
    """Run the [[pulls]] of curate.toml (or the one named): each fetches what is new since its
    last successful pull. `since`/`until` bound the items' time instead: a backfill, which
    reads that window whole (deduplicated) and leaves the cursor where it was."""
    if since is not None and until is not None and since >= until:
        raise ConfigError(f"--since {since.isoformat()} is not before --until {until.isoformat()}")
    specs = choose(pull_specs(project.config.data), name)
    for spec in specs:
        if spec.task is not None:
            project.config.require_task(spec.task)
    return [pull_one(project, spec, since=since, until=until, progress=progress) for spec in specs]


def pull_one(
    project: Project,
    spec: PullSpec,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: PullProgress | None = None,
) -> PullResult:
    from curate.ingest.stage import ingest_pages

    workspace = project.workspace
    workspace.create()
    store = open_store(spec)
    started = time.perf_counter()
    backfill = since is not None or until is not None
    resumed = None if backfill else last_cursor(workspace.manifest(), spec)
    result = PullResult(spec.name, spec.kind, spec.base_url, spec.project)
    result.started_at = now_utc().isoformat()
    lower = since or spec.start
    result.window = {
        "since": lower.isoformat() if lower else None,
        "until": until.isoformat() if until else None,
        "resumed_after": resumed,
        "backfill": backfill,
    }
    report = progress or (lambda *_: None)
    try:
        store.check()
        skip = quarantined_items(workspace, spec.name)
        with tempfile.TemporaryDirectory(prefix=".pull-", dir=workspace.root) as folder:
            read_spans: set[str] = set()  # what a pull reads, for Phoenix's annotations
            pages = prefetch(
                _page_sources(
                    store, spec, resumed, lower, until, Path(folder), skip, result, read_spans
                )
            )

            def counted() -> Iterator[tuple[Source, dict[str, Any]]]:
                for page in pages:
                    yield page
                    report(spec.name, result.items, result.pages)

            done = ingest_pages(
                project,
                counted(),
                format_name=store.format,
                task=spec.task,
                args={"pull": spec.name, "store": spec.where, "project": spec.project},
            )
        for key in ("ingested", "duplicates", "quarantined", "skipped"):
            setattr(result, key, getattr(done, key))
        _later_feedback(workspace, store, spec, lower, read_spans, result)
        result.complete = True
    except PullError as exc:
        result.error = str(exc)
        raise
    finally:
        result.requests, result.retries = store.client.requests, store.client.retries
        result.seconds = round(time.perf_counter() - started, 3)
        store.client.close()
        if workspace.exists:
            result.cursor = resumed if backfill else last_cursor(workspace.manifest(), spec)
            _remember(workspace, result)
    return result


def _page_sources(
    store, spec: PullSpec, resumed, lower, until, folder: Path, skip, result, read: set[str]
):
    """Each page written to a file of JSON lines (one item a line) as a Source, with what its
    manifest entry keeps of the pull. Fetched a page ahead (`prefetch`: the next request waits
    on the server while this page is read and committed); a page's file is removed two pages
    later, when its reader is surely done with it."""
    backfill = result.window["backfill"]
    # a pull killed before (kill -9) left its folder of pages: this runs under the workspace
    # lock (ingest_pages holds it while it reads these pages), so no other pull owns them
    for stale in folder.parent.glob(".pull-*"):
        if stale != folder:
            shutil.rmtree(stale, ignore_errors=True)
    written: list[Path] = []
    for page in store.pages(store.start(resumed), lower, until):
        result.pages += 1
        result.items += page.read
        result.filtered += page.filtered
        result.gone += page.gone
        kept = [(i, item) for i, item in zip(page.ids, page.items, strict=True) if i not in skip]
        read.update(
            i.removeprefix("span ") for i in page.ids if i.startswith("span ") and "(" not in i
        )
        result.already_quarantined += len(page.items) - len(kept)
        path = folder / f"page-{result.pages:06d}.jsonl"
        path.write_bytes(b"".join(orjson.dumps(item) + b"\n" for _, item in kept))
        source = Source(
            path,
            url=page.url,
            display=f"{page_prefix(spec.name)}{page.url}",
            name=f"pull:{spec.name}",
            items=[i for i, _ in kept],
        )
        written.append(path)
        entry = {"cursor": None if backfill else page.cursor, "items": len(kept)}
        yield source, store_key(spec) | entry
        if len(written) > 2:
            written.pop(0).unlink()


def _later_feedback(workspace, store, spec: PullSpec, lower, read_spans, result) -> None:
    """Feedback made after the calls, as the feedback of the records it is about
    (curate/ingest/pull/feedback.py): Langfuse's scores made since the last pull read them (less
    the overlap); Phoenix's annotations of the spans this pull read."""
    from datetime import timedelta

    from curate.ingest.pull.feedback import apply_annotations, apply_scores, scores_start

    if hasattr(store, "scores"):
        until = now_utc()
        start = scores_start(workspace.manifest(), store_key(spec))
        since = start - timedelta(minutes=spec.overlap) if start else lower
        scores = [score for page in store.scores(since, until) for score in page]
        with workspace.lock("pull"):
            result.feedback_updated = apply_scores(workspace, scores)
        result.scores_until = until.isoformat()
    else:
        notes = store.annotations(sorted(read_spans))
        with workspace.lock("pull"):
            result.feedback_updated = apply_annotations(workspace, notes)


def _remember(workspace, result: PullResult) -> None:
    """The pull's window and counts in the manifest's `pulls` (the key is never in them)."""
    with workspace.lock("pull"):
        manifest = workspace.manifest()
        manifest.setdefault("pulls", []).append(
            result.to_dict() | {"finished_at": now_utc().isoformat()}
        )
        workspace.write_manifest(manifest)


__all__ = ["PullError", "PullResult", "pull", "pull_one"]
