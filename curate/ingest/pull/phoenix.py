"""Phoenix's REST API: a project's spans, in the order Phoenix stored them.

`GET /v1/projects/{project}/spans?sort=id&order=asc` pages spans by their row id, which Phoenix
assigns as it stores each span: a span that arrives late (an exporter retrying after an outage,
an agent whose span started an hour ago and ended now) still gets an id after every span pulled
before it, so a cursor on the id cannot step over it, where one on the span's start time (set by
the client) would. Each span becomes one OTLP JSON line and is read by the otel format, so a
pulled span is the same record as the same span exported to a file and ingested.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from curate.ingest.pull.client import NotFound, PullError, StoreClient, TooLong, page_url
from curate.ingest.pull.pages import Page
from curate.ingest.pull.settings import PullSpec

STATUS_CODES = {"OK": 1, "ERROR": 2}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def span_cursor(rowid: int) -> str:
    """Phoenix's page cursor for the span stored as `rowid` (a relay GlobalID)."""
    return base64.b64encode(f"Span:{rowid}".encode()).decode()


def span_rowid(global_id: str) -> int:
    try:
        kind, _, number = base64.b64decode(global_id).decode().partition(":")
        if kind == "Span":
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise PullError(f"Phoenix gave a span id that is not a span's: {global_id!r}")


def _nanos(value: Any) -> int | None:
    """An ISO time as nanoseconds since the epoch, exactly (no float rounding); None when it
    is not one (the record keeps no time rather than being lost)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def any_value(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP AnyValue."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": key_values(value)}}
    return {"stringValue": "" if value is None else str(value)}


def key_values(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in attributes.items() if v is not None]


def otlp_item(span: dict[str, Any]) -> dict[str, Any]:
    """One span of Phoenix's REST API as an OTLP JSON export request (what the otel format
    reads). Phoenix moves `openinference.span.kind` out of the attributes: it goes back in."""
    context = span.get("context") if isinstance(span.get("context"), dict) else {}
    attributes = span.get("attributes") if isinstance(span.get("attributes"), dict) else {}
    attributes = dict(attributes)
    if span.get("span_kind"):
        attributes["openinference.span.kind"] = span["span_kind"]
    otlp: dict[str, Any] = {
        "traceId": context.get("trace_id"),
        "spanId": context.get("span_id"),
        "parentSpanId": span.get("parent_id"),
        "name": span.get("name"),
        "startTimeUnixNano": _nanos(span.get("start_time")),
        "endTimeUnixNano": _nanos(span.get("end_time")),
        "attributes": key_values(attributes),
        "status": {
            "code": STATUS_CODES.get(str(span.get("status_code")), 0),
            "message": span.get("status_message") or None,
        },
    }
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [otlp]}]}]}


def _tags_of(span: dict[str, Any]) -> set[str]:
    """OpenInference's `tag.tags` (a list; Phoenix's REST API flattens it to tag.tags.N)."""
    attrs = span.get("attributes") or {}
    tags = attrs.get("tag.tags")
    found = {str(t) for t in tags} if isinstance(tags, list) else set()
    return found | {str(v) for k, v in attrs.items() if k.startswith("tag.tags.")}


def _wanted(span: Any, models: set[str], tags: set[str]) -> bool:
    """[pulls.filter] model and tags, which Phoenix's API cannot filter by; what is not a span
    is handed on (the otel reader quarantines it)."""
    if not isinstance(span, dict):
        return True
    return (not models or _model_of(span) in models) and tags <= _tags_of(span)


def _model_of(span: dict[str, Any]) -> str | None:
    attrs = span.get("attributes") or {}
    return (
        attrs.get("gen_ai.response.model")
        or attrs.get("gen_ai.request.model")
        or attrs.get("llm.model_name")
    )


class PhoenixStore:
    format = "otel"
    item = "span"

    def __init__(self, spec: PullSpec):
        key = spec.secret(spec.api_key_env, "api_key_env")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.spec = spec
        self.client = StoreClient(
            spec.base_url,
            spec.where,
            headers=headers,
            secrets=(key or "",),
            timeout=spec.timeout_s,
            attempts=spec.max_retries + 1,
        )
        self.path = f"/v1/projects/{quote(str(spec.project), safe='')}/spans"

    def check(self) -> None:
        """The server answers and has the project: a wrong URL, key or project fails here,
        before anything is read, with what to check."""
        self.client.get("/v1/projects", {"limit": 1})
        try:
            self.client.get(self.path, {"limit": 1})
        except NotFound:
            raise PullError(
                f"{self.spec.where} has no project {self.spec.project!r}: check [[pulls]] "
                "project (a name or an id, as Phoenix's Projects page shows it)"
            ) from None

    def annotations(self, span_ids: list[str]) -> list[dict[str, Any]]:
        """The annotations of these spans (Phoenix lists them by span id): 1,000 ids a request,
        as Phoenix takes; a server or proxy that refuses so long a URL (1,000 ids are 26 KB;
        nginx passes 8 KB) is asked again with half as many, down to 50."""
        found: list[dict[str, Any]] = []
        size, start = 1000, 0
        while start < len(span_ids):
            try:
                found += self._annotations(span_ids[start : start + size])
            except TooLong:
                if size <= 50:
                    raise
                size //= 2
                continue
            start += size
        return found

    def _annotations(self, span_ids: list[str]) -> list[dict[str, Any]]:
        path = self.path.removesuffix("/spans") + "/span_annotations"
        params: dict[str, Any] = {"span_ids": span_ids, "limit": 10_000}
        found: list[dict[str, Any]] = []
        while True:
            answer = self.client.get(path, params)
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise PullError(f"{self.spec.where}: {path} answered no `data` list")
            found += [a for a in data if isinstance(a, dict)]
            if not answer.get("next_cursor"):
                return found
            params["cursor"] = answer["next_cursor"]

    def start(self, cursor: Any) -> Any:
        """Where a pull resumes: `overlap` span ids before the last one pulled (re-read and
        deduplicated; see curate/ingest/pull/__init__.py for why)."""
        if cursor is None:
            return None
        return max(int(cursor) + 1 - self.spec.overlap, 1)

    def pages(self, start: Any, since: datetime | None, until: datetime | None) -> Iterator[Page]:
        """Pages from the span stored as row `start` (None: the first), oldest first."""
        wanted = self.spec.filter
        params: dict[str, Any] = {
            "sort": "id",
            "order": "asc",
            "limit": self.spec.page_size,
            "start_time": since.isoformat() if since else None,
            "end_time": until.isoformat() if until else None,
            "span_kind": wanted.get("span_kind"),
            "name": wanted.get("name"),
            "cursor": span_cursor(start) if start else None,
        }
        models, tags = set(wanted.get("model", [])), set(wanted.get("tags", []))
        while True:
            answer = self.client.get(self.path, params)
            spans = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(spans, list):
                raise PullError(f"{self.spec.where}: {self.path} answered no `data` list")
            url = page_url(self.spec.base_url, self.path, params)
            rowids = [span_rowid(s["id"]) for s in spans if isinstance(s, dict) and "id" in s]
            # what is not a span is handed on as it is: the otel reader quarantines it
            kept = [s for s in spans if _wanted(s, models, tags)]
            if spans:
                yield Page(
                    items=[otlp_item(s) if isinstance(s, dict) else s for s in kept],
                    ids=[_name(s) for s in kept],
                    cursor=max(rowids) if rowids else None,
                    url=url,
                    read=len(spans),
                    filtered=len(spans) - len(kept),
                )
            following = answer.get("next_cursor")
            if not following or not spans:
                return
            params["cursor"] = following


def _name(span: Any) -> str:
    """What a span is called in quarantine: its span id."""
    context = span.get("context") if isinstance(span, dict) else None
    span_id = context.get("span_id") if isinstance(context, dict) else None
    return f"span {span_id}" if span_id else "span (no span id)"
