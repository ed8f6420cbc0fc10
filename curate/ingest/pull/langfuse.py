"""Langfuse's public API: traces in the order of their timestamp, each fetched whole.

`GET /api/public/traces` lists traces (`orderBy=timestamp.asc`, `fromTimestamp` inclusive) with
their observations as ids only; `GET /api/public/traces/{id}` gives one trace with its
observations and scores, which is what a Langfuse export holds and what the langfuse format
reads. Pages are asked for by keyset, not by page number: each request starts at the last
trace read (its timestamp, then its id), so a trace deleted or added before the current page
while the pull runs cannot shift another past it; page numbers only step through traces that
share one timestamp. Tested against recorded shapes of the API, not a live server (Langfuse
needs ClickHouse): see tests/ingest/pull/test_pull_langfuse.py.

Scores made after their trace was pulled are read by `scores` (GET /api/public/scores) and
applied by curate/ingest/pull/feedback.py.

This is Langfuse's v1 read API, which self-hosted Langfuse v3 serves. Langfuse Cloud deprecated
GET /traces for GET /api/public/v2/observations (cursor-paged, field groups) and GET /scores for
/v3/scores; reading those is not done yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson

from curate.core.errors import ConfigError
from curate.ingest.pull.client import NotFound, PullError, StoreClient, page_url
from curate.ingest.pull.pages import Page
from curate.ingest.pull.settings import PullSpec, parse_time


def _key(trace: dict[str, Any]) -> tuple[datetime, str]:
    try:
        moment = parse_time(trace.get("timestamp"), "timestamp")
    except ConfigError:
        raise PullError(
            f"Langfuse trace {trace.get('id')} has no readable timestamp "
            f"({trace.get('timestamp')!r}): the pull orders traces by it"
        ) from None
    return moment.astimezone(UTC), str(trace.get("id"))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class LangfuseStore:
    format = "langfuse"
    item = "trace"

    def __init__(self, spec: PullSpec):
        public = spec.secret(spec.public_key_env or "LANGFUSE_PUBLIC_KEY", "public_key_env")
        secret = spec.secret(spec.api_key_env or "LANGFUSE_SECRET_KEY", "api_key_env")
        self.spec = spec
        self.client = StoreClient(
            spec.base_url,
            spec.where,
            auth=(public or "", secret or ""),
            secrets=(secret or "",),
            timeout=spec.timeout_s,
            attempts=spec.max_retries + 1,
        )

    def check(self) -> None:
        """The keys are accepted and the URL is Langfuse's API, before anything is read."""
        try:
            answer = self.client.get("/api/public/traces", {"limit": 1})
        except PullError as exc:
            if not isinstance(exc, NotFound) and "HTTP 410" not in str(exc):
                raise
            raise PullError(
                f"{self.spec.where} does not serve GET /api/public/traces ({exc}). curate reads "
                "Langfuse's v1 traces API, which self-hosted Langfuse v3 serves; Langfuse Cloud "
                "has deprecated it for /api/public/v2/observations, which curate does not read "
                "yet. Check base_url, or export the traces and `curate ingest` the file"
            ) from None
        if not isinstance(answer, dict) or "data" not in answer:
            raise PullError(
                f"{self.spec.where}: /api/public/traces answered no `data`; is base_url the "
                "Langfuse host (e.g. https://cloud.langfuse.com)?"
            )

    def start(self, cursor: Any) -> Any:
        """Where a pull resumes: `overlap` minutes before the last trace pulled (its timestamp
        is the client's, so a trace can arrive after later ones; re-read and deduplicated)."""
        if cursor is None:
            return None
        moment, _ = cursor
        return parse_time(moment, "cursor") - timedelta(minutes=self.spec.overlap)

    def pages(self, start: Any, since: datetime | None, until: datetime | None) -> Iterator[Page]:
        wanted = self.spec.filter
        lower = max([t for t in (start, since) if t is not None], default=None)
        # the keyset: the latest timestamp read, and the ids read at it (Langfuse orders by
        # timestamp alone: traces that share one come in no promised order)
        latest: datetime | None = None
        at_latest: set[str] = set()
        number = 1
        models = set(wanted.get("model", []))
        names = list(wanted.get("name", []))
        unfetchable: set[bytes] = set()
        counted = 0
        while True:
            bound = latest or lower
            params = {
                "orderBy": "timestamp.asc",
                "limit": self.spec.page_size,
                "page": number,
                "fromTimestamp": _iso(bound) if bound else None,
                "toTimestamp": _iso(until) if until else None,
                # the API takes one name: with several, they are kept here
                "name": names[0] if len(names) == 1 else None,
                "tags": wanted.get("tags"),
            }
            answer = self.client.get("/api/public/traces", params)
            listed = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(listed, list):
                raise PullError(f"{self.spec.where}: /api/public/traces answered no `data` list")
            # a listed entry with no id cannot be fetched: counted (once) as gone
            nameless = {orjson.dumps(t) for t in listed if not (isinstance(t, dict) and "id" in t)}
            unfetchable |= nameless
            listed = [t for t in listed if isinstance(t, dict) and "id" in t]
            fresh = [
                t
                for t in listed
                if latest is None
                or _key(t)[0] > latest
                or (_key(t)[0] == latest and str(t["id"]) not in at_latest)
            ]
            url = page_url(self.spec.base_url, "/api/public/traces", params)
            if fresh:
                named = [t for t in fresh if len(names) < 2 or t.get("name") in names]
                whole = [self._trace(t["id"]) for t in named]
                traces = [t for t in whole if t is not None]
                items, filtered = _keep_models(traces, models)
                newest = max(_key(t)[0] for t in fresh)
                if newest != latest:
                    latest, at_latest = newest, set()
                at_latest |= {str(t["id"]) for t in fresh if _key(t)[0] == latest}
                yield Page(
                    items=items,
                    ids=[_name(t) for t in items],
                    cursor=[_iso(latest), max(at_latest)],
                    url=url,
                    read=len(fresh),
                    filtered=filtered + len(fresh) - len(named),
                    # deleted between the list and the fetch, or listed with no id
                    gone=len(whole) - len(traces) + len(unfetchable) - counted,
                )
                counted = len(unfetchable)
                number = 1
            elif listed and number < _pages(answer):
                number += 1  # a page of traces that share the latest timestamp: the next
            else:
                return

    def scores(self, since: datetime | None, until: datetime) -> Iterator[list[dict[str, Any]]]:
        """The scores made in [since, until), a page at a time (`GET /api/public/scores`); the
        window is fixed when the pull starts, so pages do not shift under new scores."""
        number = 1
        while True:
            params = {
                "page": number,
                "limit": 100,
                "fromTimestamp": _iso(since) if since else None,
                "toTimestamp": _iso(until),
            }
            answer = self.client.get("/api/public/scores", params)
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise PullError(f"{self.spec.where}: /api/public/scores answered no `data` list")
            yield [s for s in data if isinstance(s, dict)]
            if not data or number >= _pages(answer):
                return
            number += 1

    def _trace(self, trace_id: str) -> dict[str, Any] | None:
        """The whole trace; None when it was deleted since it was listed."""
        try:
            trace = self.client.get(f"/api/public/traces/{quote(str(trace_id), safe='')}")
        except NotFound:
            return None
        if not isinstance(trace, dict):
            raise PullError(f"{self.spec.where}: trace {trace_id} answered no object")
        return trace


def _name(trace: Any) -> str:
    trace_id = trace.get("id") if isinstance(trace, dict) else None
    return f"trace {trace_id}" if trace_id else "trace (no id)"


def _pages(answer: dict[str, Any]) -> int:
    meta = answer.get("meta") or {}
    try:
        return int(meta.get("totalPages") or 0)
    except (TypeError, ValueError):
        return 0


def _keep_models(traces: list[dict[str, Any]], models: set[str]) -> tuple[list[dict], int]:
    """Traces with only the generations of the models asked for ([pulls.filter] model; the
    API cannot filter by it); how many generations were dropped."""
    if not models:
        return traces, 0
    dropped = 0
    kept = []
    for trace in traces:
        observations = trace.get("observations") or []
        keep = [
            o
            for o in observations
            if not (isinstance(o, dict) and o.get("type") == "GENERATION")
            or o.get("model") in models
        ]
        dropped += len(observations) - len(keep)
        kept.append(trace | {"observations": keep})
    return kept, dropped
