"""A server on 127.0.0.1 in the shape of Langfuse's public API, serving traces built from the real
exports in ../shared/data/langfuse_trace_exports (Langfuse's own server needs ClickHouse, which
cannot run here: the pull is tested on recorded shapes, not a live Langfuse).

What it does as Langfuse does: Basic auth with the project's key pair (401 otherwise),
`GET /api/public/traces` ordered by timestamp (`orderBy=timestamp.asc`), `fromTimestamp`
inclusive and `toTimestamp` exclusive, pages numbered from 1 with `meta.totalPages`, traces
listed with their observations and scores as ids; `GET /api/public/traces/{id}` the whole trace;
`GET /api/public/scores` every trace's scores by their timestamp.
What it adds to test the client: at most `page_limit` traces a page whatever the client asks
(50), a 429 every `rate_limit_every` requests, and traces that share a timestamp listed in no
id order.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

PUBLIC, SECRET = "pk-lf-test", "sk-lf-test-secret-0123456789"


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def recorded_traces(folder: Path) -> list[dict[str, Any]]:
    """The real exports, as Langfuse's get-trace answers them (observations inside)."""
    traces = []
    for path in sorted(folder.glob("*.trace.json")):
        document = json.loads(path.read_text())
        trace = dict(document["trace"])
        trace["observations"] = document.get("observations") or trace.get("observations") or []
        traces.append(trace)
    return traces


def variant(trace: dict[str, Any], n: int, timestamp: datetime) -> dict[str, Any]:
    """Copy `n` of a recorded trace: its ids made unique, stamped at `timestamp`."""
    copy_ = copy.deepcopy(trace)
    suffix = f"-{n:04d}"
    copy_["id"] = trace["id"] + suffix
    copy_["timestamp"] = _iso(timestamp)
    shift = timestamp - _time(trace["timestamp"])
    for obs in copy_["observations"]:
        obs["id"] = str(obs["id"]) + suffix
        obs["traceId"] = copy_["id"]
        if obs.get("parentObservationId"):
            obs["parentObservationId"] = str(obs["parentObservationId"]) + suffix
        for key in ("startTime", "endTime", "completionStartTime"):
            if isinstance(obs.get(key), str) and obs[key][:2] == "20":
                obs[key] = _iso(_time(obs[key]) + shift)
    for score in copy_.get("scores") or []:
        score["id"] = str(score["id"]) + suffix
        score["traceId"] = copy_["id"]
        if score.get("observationId"):
            score["observationId"] = str(score["observationId"]) + suffix
    return copy_


class LangfuseAPI:
    """The traces and the knobs; `serve()` starts it, `url` is where."""

    def __init__(self, traces: list[dict[str, Any]], page_limit: int = 50):
        self.traces = {t["id"]: t for t in traces}
        self.page_limit = page_limit
        self.rate_limit_every = 0
        self.fail_after: int | None = None  # every request past this many answers 500
        self.requests = 0
        self.rate_limited = 0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, traces: list[dict[str, Any]]) -> None:
        with self.lock:
            self.traces.update({t["id"]: t for t in traces})

    def serve(self) -> LangfuseAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                status, body, headers = api.answer(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def answer(self, path: str, auth: str | None) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests += 1
            count = self.requests
        expected = "Basic " + base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()
        if auth != expected:
            return (
                401,
                {
                    "message": "Invalid credentials. Confirm that you've configured the correct host."
                },
                {},
            )
        if self.fail_after is not None and count > self.fail_after:
            return 500, {"message": "Internal Server Error"}, {}
        if self.rate_limit_every and count % self.rate_limit_every == 0:
            self.rate_limited += 1
            return 429, {"message": "rate limit exceeded"}, {"Retry-After": "0"}
        url = urlparse(path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/api/public/traces":
            return 200, self.list_traces(query), {}
        if url.path == "/api/public/scores":
            return 200, self.list_scores(query), {}
        if url.path.startswith("/api/public/traces/"):
            trace = self.traces.get(url.path.rsplit("/", 1)[-1])
            if trace is None:
                return 404, {"message": "Trace not found within authorized project"}, {}
            return 200, trace, {}
        return 404, {"message": "not found"}, {}

    def list_scores(self, query: dict[str, str]) -> dict[str, Any]:
        """GET /api/public/scores: every trace's scores (as the exports hold them), by their
        timestamp, pages numbered from 1."""
        with self.lock:
            scores = [
                s
                for t in self.traces.values()
                for s in (t.get("scores") or [])
                if isinstance(s, dict)
            ]
        if "fromTimestamp" in query:
            scores = [s for s in scores if _time(s["timestamp"]) >= _time(query["fromTimestamp"])]
        if "toTimestamp" in query:
            scores = [s for s in scores if _time(s["timestamp"]) < _time(query["toTimestamp"])]
        scores.sort(key=lambda s: _time(s["timestamp"]))
        limit = min(int(query.get("limit", 50)), self.page_limit)
        page = int(query.get("page", 1))
        total = len(scores)
        return {
            "data": scores[(page - 1) * limit : page * limit],
            "meta": {
                "page": page,
                "limit": limit,
                "totalItems": total,
                "totalPages": -(-total // limit),
            },
        }

    def list_traces(self, query: dict[str, str]) -> dict[str, Any]:
        with self.lock:
            traces = list(self.traces.values())
        if "fromTimestamp" in query:
            traces = [t for t in traces if _time(t["timestamp"]) >= _time(query["fromTimestamp"])]
        if "toTimestamp" in query:
            traces = [t for t in traces if _time(t["timestamp"]) < _time(query["toTimestamp"])]
        # by timestamp; ties in descending id order, so a client that assumes ids ascend
        # within a timestamp loses traces
        traces.sort(key=lambda t: t["id"], reverse=True)
        traces.sort(key=lambda t: _time(t["timestamp"]))
        limit = min(int(query.get("limit", 50)), self.page_limit)
        page = int(query.get("page", 1))
        chunk = traces[(page - 1) * limit : page * limit]
        listed = [
            t
            | {
                "observations": [o["id"] for o in t["observations"] if isinstance(o, dict)]
                if isinstance(t["observations"], list)
                else t["observations"],
                "scores": [s["id"] for s in t.get("scores") or []],
            }
            for t in chunk
        ]
        total = len(traces)
        return {
            "data": listed,
            "meta": {
                "page": page,
                "limit": limit,
                "totalItems": total,
                "totalPages": -(-total // limit) if limit else 0,
            },
        }


def spread(traces: list[dict[str, Any]], count: int, start: datetime, tied: int = 0):
    """`count` variants of the recorded traces a minute apart from `start`, the first `tied`
    of them all at `start` (one timestamp shared by more traces than a page holds)."""
    out = []
    for n in range(count):
        moment = start if n < tied else start + timedelta(minutes=n - tied + 1)
        out.append(variant(traces[n % len(traces)], n, moment))
    return out


def renamed(traces: list[dict[str, Any]], tag: str) -> list[dict[str, Any]]:
    """The traces with `tag` added to their ids and their observations' (new traces)."""
    out = []
    for trace in traces:
        trace = copy.deepcopy(trace)
        trace["id"] += tag
        for obs in trace["observations"]:
            obs["id"] += tag
            obs["traceId"] = trace["id"]
        out.append(trace)
    return out
