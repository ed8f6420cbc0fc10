"""Recorded HTTP exchanges with LLM APIs (VCR.py cassettes, YAML): one record per call.

Many teams' test suites and proxies keep these. OpenAI-compatible `/chat/completions` and
`/completions` calls (OpenAI, Azure OpenAI, vLLM, ...) and Gemini / Vertex AI `generateContent`
calls become records, with gzip and streamed (server-sent events) bodies decoded; the HTTP
status and error bodies are kept. Other calls (embeddings, images, ...) are counted and skipped.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urlparse

import orjson
import yaml

from curate.core.errors import InputError
from curate.ingest.formats.base import (
    Batch,
    LogFormat,
    Quarantined,
    ReadContext,
    Sample,
    Source,
    cut_raw,
)
from curate.ingest.formats.exchange import exchanges_batch
from curate.ingest.formats.messages import gemini_finish, parts_text, read_messages


def body_text(body: Any) -> str | None:
    """A cassette body (text, {"string": ...}, or gzip bytes) as text."""
    if isinstance(body, dict):
        body = body.get("string")
    if isinstance(body, bytes):
        if body[:2] == b"\x1f\x8b":
            body = gzip.decompress(body)
        body = body.decode("utf-8", errors="replace")
    return body


def parse_body(text: str | None) -> Any:
    """JSON, or the list of events of a server-sent-events stream, or None."""
    if not text:
        return None
    if text.lstrip().startswith("data:"):
        events = []
        for line in text.splitlines():
            data = line[5:].strip() if line.startswith("data:") else ""
            if data and data != "[DONE]":
                try:
                    events.append(orjson.loads(data))
                except orjson.JSONDecodeError:
                    continue
        return events
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def gemini_exchange(request: dict[str, Any], response: Any, status: int | None) -> dict[str, Any]:
    messages = read_messages(request.get("contents") or [])
    system = request.get("systemInstruction") or request.get("system_instruction")
    if system:
        text, _ = parts_text((system or {}).get("parts"))
        messages.insert(0, {"role": "system", "content": text})
    chunks = response if isinstance(response, list) else [response]
    texts, calls, finish, usage, model = [], [], None, {}, None
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        for candidate in (chunk.get("candidates") or [])[:1]:
            text, found = parts_text((candidate.get("content") or {}).get("parts"))
            texts += [text] if text else []
            calls += found
            finish = candidate.get("finishReason", finish)
        usage = chunk.get("usageMetadata") or usage
        model = chunk.get("modelVersion") or model
    error = response.get("error") if isinstance(response, dict) else None
    completion = None
    if error is None and any(isinstance(c, dict) and "candidates" in c for c in chunks):
        completion = {
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "".join(texts) if texts else None,
                        "tool_calls": [{"id": c["id"], "function": c} for c in calls] or None,
                    },
                    "finish_reason": gemini_finish(finish),
                }
            ],
            "usage": {
                "prompt_tokens": usage.get("promptTokenCount"),
                "completion_tokens": usage.get("candidatesTokenCount"),
            },
        }
    return {
        "messages": messages,
        "response": completion,
        "status_code": status,
        "error": error if isinstance(error, dict) else None,
    }


def interaction_exchange(interaction: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(kind of call, exchange) of one recorded interaction; exchange None when not a model call."""
    request = interaction.get("request") or {}
    response = interaction.get("response") or {}
    path = urlparse(str(request.get("uri", ""))).path
    status = (response.get("status") or {}).get("code")
    request_body = parse_body(body_text(request.get("body")))
    response_body = parse_body(body_text(response.get("body")))
    request_body = request_body if isinstance(request_body, dict) else {}
    if ":generateContent" in path or ":streamGenerateContent" in path:
        model = path.rsplit("/models/", 1)[-1].split(":")[0]
        exchange = gemini_exchange(request_body, response_body, status)
        exchange["request"] = {"model": model}
        return "generateContent", exchange
    if path.endswith(("/chat/completions", "/completions")):
        error = response_body.get("error") if isinstance(response_body, dict) else None
        if error is None and isinstance(status, int) and status >= 400:
            error = f"HTTP {status}"
        has_answer = isinstance(response_body, list) or (
            isinstance(response_body, dict) and "choices" in response_body
        )
        return path.rsplit("/", 2)[-1], {
            "request": request_body,
            "response": response_body if has_answer else None,
            "status_code": status,
            "error": error,
        }
    return path.rsplit("/", 1)[-1] or path, None


class VCRCassette(LogFormat):
    name: ClassVar[str] = "vcr"
    priority: ClassVar[int] = 80
    expects: ClassVar[str] = (
        "VCR.py cassettes (YAML `interactions:` with request and response) of OpenAI-compatible "
        "or Gemini calls"
    )

    def sniff(self, sample: Sample) -> bool:
        head = sample.head.lstrip()
        return head.startswith(b"interactions:") or (
            head.startswith(b"version:") and b"\ninteractions:" in sample.head
        )

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        try:
            doc = yaml.safe_load(source.read_all())
        except yaml.YAMLError as exc:
            raise InputError(f"{source.display}: not valid YAML ({exc}).") from None
        items: list[tuple[int, str, dict[str, Any]]] = []
        quarantined: list[Quarantined] = []
        skipped: Counter[str] = Counter()
        for number, interaction in enumerate((doc or {}).get("interactions") or [], start=1):
            if not isinstance(interaction, dict):
                quarantined.append(Quarantined(number, "not a recorded interaction", None))
                continue
            kind, exchange = interaction_exchange(interaction)
            if exchange is None:
                skipped[f"{kind} calls (not chat or text completions)"] += 1
                continue
            raw = orjson.dumps(exchange, default=str).decode()
            items.append((number, cut_raw(raw) or "", exchange))
        yield exchanges_batch(items, quarantined, dict(skipped))
