"""The pulls' HTTP client against a scripted server on 127.0.0.1: retries with backoff on 429 and
5xx (a Retry-After honoured), errors that name the server and what to check, the key never in a
message, whatever the server echoes."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curate.ingest.pull import client as client_module
from curate.ingest.pull.client import PullError, StoreClient

KEY = "phx-secret-key-4242"


class Scripted:
    """Answers from a list (status, body, headers), the last one repeated."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.seen: list[str] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                scripted.seen.append(self.headers.get("Authorization") or "")
                status, body, headers = (
                    scripted.answers.pop(0) if len(scripted.answers) > 1 else scripted.answers[0]
                )
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(*answers):
        servers.append(Scripted(answers))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def client(url: str, attempts: int = 4) -> StoreClient:
    return StoreClient(
        url,
        f"Phoenix at {url}",
        headers={"Authorization": f"Bearer {KEY}"},
        secrets=(KEY,),
        attempts=attempts,
        backoff=0.01,
    )


def test_429_and_5xx_are_retried_and_retry_after_is_honoured(serve):
    server = serve(
        (429, {"detail": "slow down"}, {"Retry-After": "0.3"}),
        (503, {"detail": "busy"}, {}),
        (200, {"data": [1, 2]}, {}),
    )
    c = client(server.url)
    started = time.monotonic()
    assert c.get("/v1/projects") == {"data": [1, 2]}
    assert time.monotonic() - started >= 0.3
    assert (c.requests, c.retries) == (3, 2)
    assert all(seen == f"Bearer {KEY}" for seen in server.seen)


def test_a_server_that_stays_down_is_named_with_what_to_check(serve):
    server = serve((502, b"bad gateway", {}))
    with pytest.raises(PullError) as caught:
        client(server.url, attempts=3).get("/v1/projects")
    message = str(caught.value)
    assert server.url in message and "HTTP 502" in message and "after 3 attempts" in message
    assert "base_url" in message and "resumes" in message


def test_nobody_listening(serve):
    server = serve((200, {}, {}))
    url = server.url
    server.close()
    with pytest.raises(PullError, match=r"cannot reach .*ConnectError"):
        client(url, attempts=2).get("/v1/projects")


def test_a_refused_key_says_which_setting_and_never_shows_the_key(serve):
    # a server that echoes the request's Authorization header in its error
    server = serve((401, {"detail": f"invalid token Bearer {KEY}"}, {}))
    with pytest.raises(PullError) as caught:
        client(server.url).get("/v1/projects")
    message = str(caught.value)
    assert "refused the key" in message and "api_key_env" in message
    assert KEY not in message
    server = serve((400, {"detail": f"bad request from {KEY}"}, {}))
    with pytest.raises(PullError) as caught:
        client(server.url).get("/v1/projects")
    assert KEY not in str(caught.value) and "***" in str(caught.value)


def test_not_found_and_not_json(serve):
    server = serve((404, {"detail": "Project not found"}, {}))
    with pytest.raises(PullError, match=r"Project not found.*base_url"):
        client(server.url).get("/v1/projects/x/spans")
    server = serve((200, b"<html>login</html>", {}))
    with pytest.raises(PullError, match="not JSON"):
        client(server.url).get("/v1/projects")


def test_an_answer_too_large_is_refused(serve, monkeypatch):
    monkeypatch.setattr(client_module, "MAX_BODY_BYTES", 1000)
    server = serve((200, {"data": ["x" * 5000]}, {}))
    with pytest.raises(PullError, match="lower page_size"):
        client(server.url).get("/v1/projects")


def test_a_short_key_does_not_rewrite_the_message(serve):
    server = serve((200, {}, {}))
    url = server.url
    server.close()
    c = StoreClient(url, f"Langfuse at {url}", auth=("a", "b"), secrets=("b",), attempts=1)
    with pytest.raises(PullError) as caught:
        c.get("/api/public/traces")
    assert "base_url" in str(caught.value)  # not "***ase_url"
    assert c.scrub('{"key": "b", "auth": "Basic YTpi"}') == '{"key": "***", "auth": "Basic ***"}'


def test_a_server_that_trickles_its_answer_is_cut_off():
    """A byte every 0.1 s never trips a read timeout (it counts between bytes): the whole
    answer must come within timeout_s."""

    class Trickle(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(1000):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass  # the client hung up, as it should

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        c = StoreClient(url, f"Phoenix at {url}", timeout=0.5, attempts=2, backoff=0.01)
        started = time.monotonic()
        with pytest.raises(PullError, match=r"no whole answer within 0.5 s"):
            c.get("/v1/projects")
        assert time.monotonic() - started < 5
    finally:
        server.shutdown()
        server.server_close()
