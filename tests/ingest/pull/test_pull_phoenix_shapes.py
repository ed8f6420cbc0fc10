"""What a Phoenix server might answer beyond the usual, from a scripted server (the real one is
tests/integration/test_phoenix_pull.py): entries that are not spans, times that are not times,
a span id that is not a span's. Nothing is lost without a count; nothing crashes."""

from __future__ import annotations

import base64

import pytest

from curate.core.config import load_config
from curate.core.project import Project
from curate.core.workspace import Workspace
from curate.ingest.pull import PullError, pull
from tests.ingest.pull.test_client import serve  # noqa: F401 - the fixture

SPAN = {
    "id": base64.b64encode(b"Span:7").decode(),
    "name": "chat",
    "context": {"trace_id": "ab" * 16, "span_id": "cd" * 8},
    "span_kind": "LLM",
    "parent_id": None,
    "start_time": "2026-12-01T10:00:00.123456+00:00",
    "end_time": "2026-12-01T10:00:01.000000+00:00",
    "status_code": "OK",
    "status_message": "",
    "attributes": {
        "llm.model_name": "gpt-4o",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.0.message.content": "hi",
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.content": "hello",
    },
    "events": [],
}


def project(root, url):
    (root / "curate.toml").write_text(
        f'[[pulls]]\nkind = "phoenix"\nbase_url = "{url}"\nproject = "p"\nmax_retries = 0\n'
    )
    return Project(
        Workspace(root / ".curate", root / "curate.toml"), load_config(root / "curate.toml")
    )


def test_odd_entries_are_quarantined_or_kept_without_their_time(tmp_path, serve):  # noqa: F811
    odd_time = SPAN | {
        "id": base64.b64encode(b"Span:8").decode(),
        "context": {"trace_id": "ab" * 16, "span_id": "ef" * 8},
        "start_time": "yesterday",
    }
    page = {"data": [SPAN, "not a span", odd_time], "next_cursor": None}
    server = serve((200, {"data": []}, {}), (200, {"data": []}, {}), (200, page, {}))
    (result,) = pull(project(tmp_path, server.url))
    assert result.complete and (result.ingested, result.quarantined) == (2, 1)
    assert result.cursor == 8
    rows = p_records(tmp_path)
    assert rows["output"].to_list() == ["hello", "hello"]
    assert rows["timestamp"].null_count() == 1
    (reason,) = Workspace(tmp_path / ".curate").scan("quarantine").collect()["reason"].to_list()
    assert reason.startswith("span (no span id): ")


def p_records(root):
    return Workspace(root / ".curate").scan_records().collect().sort("source_id")


def test_a_cursor_that_is_not_a_spans_fails_clearly(tmp_path, serve):  # noqa: F811
    bad = SPAN | {"id": base64.b64encode(b"Trace:7").decode()}
    page = {"data": [bad], "next_cursor": None}
    server = serve((200, {"data": []}, {}), (200, {"data": []}, {}), (200, page, {}))
    with pytest.raises(PullError, match="not a span's"):
        pull(project(tmp_path, server.url))


def test_a_cursor_belongs_to_its_store_and_project():
    from curate.ingest.pull import last_cursor, store_key
    from curate.ingest.pull.settings import PullSpec

    prod = PullSpec("traces", "phoenix", "http://a:6006", "prod")
    other = PullSpec("traces", "phoenix", "http://a:6006", "staging")
    moved = PullSpec("traces", "langfuse", "http://b", None)
    manifest = {
        "sources": [
            {"pull": store_key(prod) | {"cursor": 10}},
            {"pull": store_key(prod) | {"cursor": 30}},
            {"pull": store_key(prod) | {"cursor": None}},  # a backfill's page
            {"pull": store_key(moved) | {"cursor": ["2026-11-01T00:00:00Z", "t1"]}},
            {"path": "/logs/a.jsonl"},
        ]
    }
    assert last_cursor(manifest, prod) == 30
    assert last_cursor(manifest, other) is None  # same name, another project: from the start
    assert last_cursor(manifest, moved) == ["2026-11-01T00:00:00Z", "t1"]


def test_tags_and_model_are_filtered_here_and_counted(tmp_path, serve):  # noqa: F811
    def span(n: int, tags: dict, model: str) -> dict:
        attrs = SPAN["attributes"] | {"llm.model_name": model} | tags
        return SPAN | {
            "id": base64.b64encode(f"Span:{n}".encode()).decode(),
            "context": {"trace_id": "ab" * 16, "span_id": f"{n:016x}"},
            "attributes": attrs,
        }

    spans = [
        span(1, {"tag.tags.0": "prod", "tag.tags.1": "eu"}, "gpt-4o"),  # flattened, as REST gives
        span(2, {"tag.tags": ["prod"]}, "gpt-4o"),
        span(3, {"tag.tags.0": "staging"}, "gpt-4o"),
        span(4, {"tag.tags.0": "prod"}, "gpt-4o-mini"),
    ]
    page = {"data": spans, "next_cursor": None}
    server = serve((200, {"data": []}, {}), (200, {"data": []}, {}), (200, page, {}))
    p = project(tmp_path, server.url)
    toml = p.workspace.config_path
    toml.write_text(toml.read_text() + '[pulls.filter]\ntags = ["prod"]\nmodel = ["gpt-4o"]\n')
    (result,) = pull(Project(p.workspace, load_config(toml)))
    assert (result.items, result.filtered, result.ingested) == (4, 2, 2)
    assert sorted(p_records(tmp_path)["source_id"]) == [f"{1:016x}", f"{2:016x}"]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ('"2026-11-01"', "2026-11-01T00:00:00+00:00"),
        ("2026-11-01", "2026-11-01T00:00:00+00:00"),  # a TOML date, unquoted
        ("2026-11-01T08:30:00+02:00", "2026-11-01T08:30:00+02:00"),
        ("2026-11-01T08:30:00", "2026-11-01T08:30:00+00:00"),  # no zone: UTC
    ],
)
def test_start_is_read_quoted_or_as_a_toml_date(tmp_path, written, expected):
    from curate.ingest.pull.settings import pull_specs

    toml = tmp_path / "curate.toml"
    toml.write_text(
        f'[[pulls]]\nkind = "phoenix"\nbase_url = "http://x"\nproject = "p"\nstart = {written}\n'
    )
    (spec,) = pull_specs(load_config(toml).data)
    assert spec.start.isoformat() == expected


def test_a_start_that_is_no_date_is_refused_by_name(tmp_path):
    from curate.core.errors import ConfigError
    from curate.ingest.pull.settings import pull_specs

    toml = tmp_path / "curate.toml"
    toml.write_text(
        '[[pulls]]\nkind = "phoenix"\nbase_url = "http://x"\nproject = "p"\nstart = 10:00:00\n'
    )
    with pytest.raises(
        ConfigError, match=r"\[\[pulls\]\] phoenix: start = '10:00:00' is not a date"
    ):
        pull_specs(load_config(toml).data)


def test_annotations_are_asked_for_in_shorter_requests_where_a_proxy_refuses_long_urls(tmp_path):
    """1,000 span ids make a 26 KB URL; behind a proxy that takes 8 KB (nginx's default), the
    request is refused with 414 and asked again with fewer ids, until it passes."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    spans = [
        SPAN
        | {
            "id": base64.b64encode(f"Span:{n}".encode()).decode(),
            "context": {"trace_id": "ab" * 16, "span_id": f"{n:016x}"},
        }
        for n in range(1, 601)
    ]
    asked: list[int] = []

    class Proxy(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            url = urlparse(self.path)
            if len(self.path) > 8192:
                status, body = 414, {"detail": "Request-URI Too Large"}
            elif url.path.endswith("/span_annotations"):
                ids = parse_qs(url.query)["span_ids"]
                asked.append(len(ids))
                note = {"span_id": f"{599:016x}", "name": "user-feedback",
                        "result": {"score": 0.0}, "updated_at": "2026-12-01T10:00:00+00:00"}  # fmt: skip
                status, body = 200, {"data": [note] if note["span_id"] in ids else []}
            elif (
                url.path.endswith("/spans")
                and "cursor" not in url.query
                and "limit=1&" not in self.path + "&"
            ):
                status, body = 200, {"data": spans, "next_cursor": None}
            else:
                status, body = 200, {"data": []}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        p = project(tmp_path, f"http://127.0.0.1:{server.server_address[1]}")
        (result,) = pull(p)
    finally:
        server.shutdown()
        server.server_close()
    assert result.ingested == 600 and result.feedback_updated == 1
    assert asked and max(asked) <= 300 and sum(asked) == 600  # every span asked for, once
