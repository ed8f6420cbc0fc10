"""Langfuse trace exports: GENERATION observations become records, scores become feedback.

Reads what Langfuse's "get trace" API and UI export give: one JSON document `{"trace": {...},
"observations": [...]}` (observations may also sit inside the trace), a list of such documents,
or one per line. Other observation types (SPAN, TOOL, AGENT, ...) are counted and skipped.

Feedback: a score on the generation itself wins over the trace's scores, which go to the trace's
last generation. The score used as `feedback_score` is the one named in FEEDBACK_NAMES, else
the only numeric score; every score is kept in metadata.scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

from curate.core.records import to_json
from curate.ingest.formats.base import (
    Batch,
    ItemRead,
    LogFormat,
    ReadContext,
    Sample,
    Source,
    elapsed_ms,
    read_items,
    rows_batch,
)
from curate.ingest.formats.messages import maybe_json, normalize_finish, read_messages, read_output

FEEDBACK_NAMES = ("user-feedback", "user_feedback", "feedback", "thumbs", "rating", "correctness")


def _trace_and_observations(item: Any) -> tuple[dict[str, Any], list[Any]] | None:
    if not isinstance(item, dict):
        return None
    trace = item.get("trace") if isinstance(item.get("trace"), dict) else None
    if trace is None and isinstance(item.get("observations"), list) and "id" in item:
        trace = item  # a bare trace with its observations inside
    if trace is None:
        return None
    observations = item.get("observations")
    if not isinstance(observations, list):
        observations = trace.get("observations")
    return trace, observations if isinstance(observations, list) else []


def _pick_feedback(scores: list[dict[str, Any]]) -> dict[str, Any] | None:
    numeric = [s for s in scores if isinstance(s.get("value"), int | float)]
    for name in FEEDBACK_NAMES:
        for score in numeric:
            if str(score.get("name", "")).lower() == name:
                return score
    return numeric[0] if len(numeric) == 1 else None


def _usage(obs: dict[str, Any]) -> tuple[Any, Any]:
    details = obs.get("usageDetails") or obs.get("usage") or {}
    prompt = details.get("input", details.get("promptTokens", obs.get("promptTokens")))
    completion = details.get("output", details.get("completionTokens", obs.get("completionTokens")))
    return prompt, completion


def generation_record(
    obs: dict[str, Any], trace: dict[str, Any], scores: list[dict[str, Any]], number: int
) -> dict[str, Any]:
    """The canonical record of one GENERATION observation."""
    text, calls, finish = read_output(obs.get("output"))
    output_value = maybe_json(obs.get("output"))
    if finish is None and isinstance(output_value, dict):
        finish = output_value.get("finish_reason")
    metadata = maybe_json(obs.get("metadata"))
    params = obs.get("modelParameters") or {}
    finish = (
        finish or (metadata or {}).get("finish_reason") if isinstance(metadata, dict) else finish
    )
    feedback = _pick_feedback(scores)
    corrections = trace.get("corrections") or []
    correction = next(
        (c.get("value", c.get("stringValue")) for c in corrections if isinstance(c, dict)), None
    )
    prompt_tokens, completion_tokens = _usage(obs)
    cost = (obs.get("costDetails") or {}).get("total", obs.get("totalCost"))
    latency = obs.get("latency")
    prompt_name = obs.get("promptName")
    error = obs.get("statusMessage") if obs.get("level") == "ERROR" else None
    tools = obs.get("toolDefinitions")
    return {
        "source_id": obs.get("id"),
        "source_line": number,
        "timestamp": obs.get("startTime"),
        "model": obs.get("model") or params.get("model"),
        "prompt_version": f"{prompt_name}@{obs.get('promptVersion')}" if prompt_name else None,
        "messages": read_messages(obs.get("input")),
        "output": text,
        "tool_calls": calls,
        "tools": to_json(tools) if tools else None,
        "finish_reason": normalize_finish(finish),
        "error": (error or "error") if obs.get("level") == "ERROR" else None,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "latency_ms": latency * 1000 if isinstance(latency, int | float) else None,
        "ttft_ms": elapsed_ms(obs.get("startTime"), obs.get("completionStartTime")),
        "cost": cost,
        "feedback_score": feedback.get("value") if feedback else None,
        "feedback_comment": feedback.get("comment") if feedback else None,
        "correction": to_json(correction),
        "metadata": to_json(
            {
                "trace_id": trace.get("id"),
                "trace_name": trace.get("name"),
                "observation_name": obs.get("name"),
                "user_id": trace.get("userId"),
                "session_id": trace.get("sessionId"),
                "tags": trace.get("tags"),
                "model_parameters": params or None,
                "scores": {s.get("name"): s.get("value", s.get("stringValue")) for s in scores},
                "metadata": metadata,
            }
        ),
        "_raw": None,
    }


def _generation_rows(
    trace: dict[str, Any], observations: list[Any], number: int
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The records of one trace's generations, and what was skipped."""
    skipped: Counter[str] = Counter()
    generations = [o for o in observations if isinstance(o, dict) and o.get("type") == "GENERATION"]
    for obs in observations:
        if isinstance(obs, dict) and obs.get("type") != "GENERATION":
            skipped[f"{obs.get('type')} observations (only GENERATION are model calls)"] += 1
    generations.sort(key=lambda o: str(o.get("startTime") or ""))
    trace_scores = [s for s in trace.get("scores") or [] if isinstance(s, dict)]
    rows = []
    for position, obs in enumerate(generations):
        own = [s for s in trace_scores if s.get("observationId") == obs.get("id")]
        if not own and position == len(generations) - 1:
            own = [s for s in trace_scores if not s.get("observationId")]
        rows.append(generation_record(obs, trace, own, number))
    return rows, skipped


class Langfuse(LogFormat):
    name: ClassVar[str] = "langfuse"
    priority: ClassVar[int] = 30
    expects: ClassVar[str] = (
        'Langfuse trace exports: JSON {"trace": {...}, "observations": [{"type": "GENERATION", '
        "...}]} (one document, a list, or one per line)"
    )

    def sniff(self, sample: Sample) -> bool:
        for obj in sample.objects[:3]:
            found = _trace_and_observations(obj)
            if found and any(
                isinstance(o, dict) and "type" in o and "traceId" in o for o in found[1]
            ):
                return True
            if found and "projectId" in found[0]:
                return True
        return False

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        def read_item(number: int, raw: str, item: Any) -> ItemRead:
            found = _trace_and_observations(item)
            assert found is not None
            return _generation_rows(*found, number)

        return read_items(
            source,
            ctx,
            is_item=lambda item: _trace_and_observations(item) is not None,
            not_item="not a Langfuse trace export: expected "
            '{"trace": {...}, "observations": [...]}',
            read_item=read_item,
            batch=rows_batch,
        )
