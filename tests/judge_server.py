"""A local OpenAI-compatible chat-completions server on 127.0.0.1, for the judge's tests.

It answers with a real recorded chat completion (a VCR cassette of ../shared/data, its content
and logprobs replaced by the answer asked for), and injects the faults it is told to: HTTP 429,
HTTP 500, a timeout (it answers too late), a body that is not a chat completion.
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
                return self._send(200, completion)

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> JudgeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
