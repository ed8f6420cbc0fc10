"""A local OpenAI-compatible chat-completions server on 127.0.0.1, for the judge's tests.

It answers with a real recorded chat completion (a VCR cassette of ../shared/data, its content
and logprobs replaced by the answer asked for), and injects the faults it is told to: HTTP 429,
HTTP 500, a timeout (it answers too late), a body that is not a chat completion, and hostile
ones: a 401 that echoes the API key, a gzip body that expands to 1 GiB, an answer trickled a
byte at a time, malformed token counts and logprobs.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

CASSETTE = "llm_api_cassettes/otel_contrib/openai-v2__test_chat_completion_multiple_choices.yaml"


def recorded_completion(shared: Path) -> dict:
    cassette = yaml.safe_load((shared / CASSETTE).read_text())
    return json.loads(cassette["interactions"][0]["response"]["body"]["string"])


class JudgeServer:
    """`answer(prompt) -> (text, logprob)`; `faults`: a list consumed one per request."""

    def __init__(
        self, shared: Path, answer: Callable[[str], tuple[str, float]], delay: float = 2.0
    ):
        self.template = recorded_completion(shared)
        self.answer = answer
        self.faults: list[str] = []
        self.requests: list[dict] = []
        self.delay = delay
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    fault = server.faults.pop(0) if server.faults else None
                if fault == "429":
                    return self._send(429, {"error": {"message": "Rate limit reached"}})
                if fault == "500":
                    return self._send(500, {"error": {"message": "The server had an error"}})
                if fault == "malformed":
                    return self._send(200, {"unexpected": "shape"})
                if fault == "echo_401":  # a server that puts the request's headers in its error
                    echoed = {"error": {"message": f"bad key: {self.headers['Authorization']}"}}
                    return self._send(401, echoed)
                if fault == "gzip_bomb":
                    return self._send_raw(200, server.bomb(), {"Content-Encoding": "gzip"})
                if fault == "trickle":
                    return self._trickle()
                if fault == "timeout":
                    time.sleep(server.delay)
                text, logprob = server.answer(body["messages"][-1]["content"])
                completion = copy.deepcopy(server.template)
                completion["model"] = body["model"]
                completion["choices"] = completion["choices"][:1]
                completion["choices"][0]["message"]["content"] = text
                completion["choices"][0]["logprobs"] = {
                    "content": [{"token": text[:4], "logprob": logprob, "top_logprobs": []}]
                }
                completion["usage"] = {
                    "prompt_tokens": len(body["messages"][-1]["content"]) // 4,
                    "completion_tokens": 3,
                    "total_tokens": len(body["messages"][-1]["content"]) // 4 + 3,
                }
                broken = {  # one malformed part of an otherwise real answer
                    "usage_list": ("usage", [1, 2]),
                    "tokens_huge": ("prompt_tokens", 10**30),
                    "tokens_abc": ("completion_tokens", "abc"),
                    "logprob_abc": ("logprob", "abc"),
                    "logprob_huge": ("logprob", 1e6),
                }
                if fault in broken:
                    key, value = broken[fault]
                    if key == "usage":
                        completion["usage"] = value
                    elif key == "logprob":
                        completion["choices"][0]["logprobs"]["content"][0]["logprob"] = value
                    else:
                        completion["usage"][key] = value
                return self._send(200, completion)

            def _send(self, status, payload):
                self._send_raw(status, json.dumps(payload).encode(), {})

            def _send_raw(self, status, data: bytes, headers: dict[str, str]):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

            def _trickle(self):
                """One byte every 0.25 s for up to 2 minutes: each read is quick, the whole
                answer never comes."""
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "480")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    for _ in range(480):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.25)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def bomb(self) -> bytes:
        """A gzip body that expands to 1 GiB of zeros (under 5 MB on the wire), made once."""
        if not hasattr(self, "_bomb"):
            import zlib

            packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: a gzip container
            block = bytes(1 << 20)
            self._bomb = b"".join(packer.compress(block) for _ in range(1024)) + packer.flush()
        return self._bomb

    def __enter__(self) -> JudgeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
