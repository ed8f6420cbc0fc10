"""promptfoo eval results: `promptfoo eval -o results.json` (one document: {evalId, results:
{timestamp, results: [...]}}) or `-o results.jsonl` (one result a line).

Each result is one call: the prompt promptfoo sent (`prompt.raw`; a JSON list of chat messages
is the conversation, other text one user turn), the provider (`provider.id`, e.g.
`openai:chat:ft:gpt-4o-mini:acme::x1`; the model is what follows the provider's prefix),
`response.output`, token usage, latency, cost and error. The test's vars `task` and `answer`
(as curate's eval suite writes them, `curate export --eval`) become the record's task and
reference, so `curate detect` checks the new model against the held-out answers, and its
metadata (the held-out record's id) and promptfoo's own verdict go to the record's metadata.
Ingested beside the production logs, `curate report --compare OLD NEW` compares the two models
on the inputs both answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import orjson

from curate.core.errors import InputError
from curate.core.records import to_json
from curate.ingest.formats.base import (
    SHAPE_ERRORS,
    Batch,
    ItemRead,
    LogFormat,
    Quarantined,
    ReadContext,
    Sample,
    Source,
    cut_raw,
    read_items,
    shape_error,
)
from curate.ingest.formats.exchange import exchanges_batch
from curate.ingest.formats.messages import maybe_json


def _is_result(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("provider"), dict | str)
        and "testCase" in obj
        and ("response" in obj or "error" in obj)
    )


def _is_document(obj: Any) -> bool:
    inner = obj.get("results") if isinstance(obj, dict) else None
    return isinstance(inner, dict) and isinstance(inner.get("results"), list) and "evalId" in obj


def model_of(provider: Any) -> str | None:
    """The model of a provider id: what follows `kind:` or `kind:api:` (openai:chat:gpt-4o)."""
    pid = provider.get("id") if isinstance(provider, dict) else provider
    if not isinstance(pid, str):
        return None
    parts = pid.split(":", 2)
    if len(parts) == 3 and parts[1] in ("chat", "completion", "messages", "responses"):
        return parts[2]
    return pid.split(":", 1)[-1]


def result_exchange(result: dict[str, Any], timestamp: Any = None) -> dict[str, Any]:
    """One promptfoo result as an exchange (the OpenAI-shaped call of exchange.py)."""
    prompt = result.get("prompt") or {}
    raw = prompt.get("raw") if isinstance(prompt, dict) else prompt
    messages = maybe_json(raw)
    if not isinstance(messages, list):
        messages = [{"role": "user", "content": raw if isinstance(raw, str) else to_json(raw)}]
    response = result.get("response") or {}
    output = response.get("output")
    usage = response.get("tokenUsage") or {}
    error = result.get("error") or response.get("error")
    test = result.get("testCase") or {}
    variables = result.get("vars") or test.get("vars") or {}
    grading = result.get("gradingResult") or {}
    metadata = dict(test.get("metadata") or {})
    metadata["promptfoo"] = {"success": result.get("success"), "score": result.get("score")}
    if grading.get("reason"):
        metadata["promptfoo"]["reason"] = grading["reason"]
    model = model_of(result.get("provider"))
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": None if output is None else to_json(output)},
        "finish_reason": response.get("finishReason"),
    }
    answered = output is not None
    return {
        "source_id": result.get("id"),
        "request": {"model": model, "messages": messages},
        "response": {
            "model": model,
            "choices": [choice] if answered else [],
            "usage": {
                "prompt_tokens": usage.get("prompt"),
                "completion_tokens": usage.get("completion"),
            },
        },
        "model": model,
        "timestamp": timestamp,
        "latency_ms": result.get("latencyMs") or response.get("latencyMs"),
        "cost": result.get("cost"),
        "error": {"message": str(error)} if error else None,
        "task": variables.get("task") if isinstance(variables.get("task"), str) else None,
        "reference": None if variables.get("answer") is None else to_json(variables["answer"]),
        "metadata": metadata,
    }


class Promptfoo(LogFormat):
    name: ClassVar[str] = "promptfoo"
    priority: ClassVar[int] = 55
    expects: ClassVar[str] = (
        "promptfoo eval results: -o results.json ({evalId, results: {results: [...]}}) or "
        "-o results.jsonl (one {prompt, provider, response, testCase, ...} a line)"
    )

    def sniff(self, sample: Sample) -> bool:
        if _is_document(sample.document):
            return True
        if sample.document is None and sample.head.lstrip().startswith(b'{"evalId"'):
            return True
        return any(_is_result(o) for o in sample.lines[:5])

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        head = source.sample()
        if _is_document(head.document) or head.head.lstrip().startswith(b'{"evalId"'):
            batch = self._document(source)
            if batch is not None:
                yield batch
                return
        # JSON lines (-o results.jsonl), or a file that only began like a results document

        def read_item(number: int, raw: str, item: dict[str, Any]) -> ItemRead:
            return [(number, raw, result_exchange(item))], {}

        yield from read_items(
            source,
            ctx,
            is_item=_is_result,
            not_item="not a promptfoo result (it has provider, testCase and response or error)",
            read_item=read_item,
            batch=exchanges_batch,
        )

    def _document(self, source: Source) -> Batch | None:
        """The whole results document: each result read (or quarantined) by its number; None
        when the file is no one JSON document (it is read as lines then)."""
        try:
            doc = orjson.loads(source.read_all())
        except orjson.JSONDecodeError:
            return None
        inner = doc["results"] if _is_document(doc) else {}
        if not inner:
            raise InputError(
                f"{source.display}: a promptfoo document without a results.results list; "
                "write the results with promptfoo eval -o results.json (or .jsonl)"
            )
        items, quarantined = [], []
        for number, result in enumerate(inner["results"], start=1):
            raw = to_json(result) or ""
            if not _is_result(result):
                why = "not a promptfoo result (it has provider, testCase and response or error)"
                quarantined.append(Quarantined(number, why, cut_raw(raw)))
                continue
            try:
                items.append((number, raw, result_exchange(result, inner.get("timestamp"))))
            except SHAPE_ERRORS as exc:
                quarantined.append(shape_error(number, raw, result, exc))
        return exchanges_batch(items, quarantined)
