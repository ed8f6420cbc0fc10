"""LangSmith run exports: runs of run_type "llm" become records, feedback becomes feedback.

Reads a JSON list of runs, one run per line, or {"runs": [...], "feedback": [...]}. Feedback may
sit on the run (`feedback`: a list of {key, score, comment, correction}) or beside the runs as
objects with `run_id` and `key`. Runs of other types (chain, tool, retriever, ...) are counted
and skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

from curate.core.records import to_json
from curate.ingest.formats.base import (
    SHAPE_ERRORS,
    Batch,
    LogFormat,
    Quarantined,
    ReadContext,
    Sample,
    Source,
    cut_raw,
    elapsed_ms,
    iter_json_items,
    records_frame,
    shape_error,
)
from curate.ingest.formats.messages import normalize_finish, read_messages, read_output


def _is_run(obj: Any) -> bool:
    return isinstance(obj, dict) and "run_type" in obj and ("inputs" in obj or "outputs" in obj)


def _is_feedback(obj: Any) -> bool:
    return isinstance(obj, dict) and "run_id" in obj and "key" in obj and "run_type" not in obj


def _expand(item: Any) -> list[Any]:
    if isinstance(item, dict) and isinstance(item.get("runs"), list):
        return list(item["runs"]) + list(item.get("feedback") or [])
    return [item]


def run_record(run: dict[str, Any], feedback: list[dict[str, Any]], number: int) -> dict[str, Any]:
    """The canonical record of one llm run."""
    inputs = run.get("inputs") or {}
    outputs = run.get("outputs") or {}
    extra = run.get("extra") or {}
    metadata = extra.get("metadata") or run.get("metadata") or {}
    params = extra.get("invocation_params") or {}
    messages = read_messages(inputs.get("messages", inputs.get("prompts", inputs.get("input"))))
    text, calls, finish = read_output(outputs or None)  # no outputs: no answer, not "{}"
    llm_output = outputs.get("llm_output") or {}
    usage = llm_output.get("token_usage") or llm_output.get("usage") or outputs.get("usage") or {}
    scored = [f for f in feedback if isinstance(f.get("score"), int | float)]
    chosen = scored[0] if scored else (feedback[0] if feedback else None)
    correction = next((f.get("correction") for f in feedback if f.get("correction")), None)
    if isinstance(correction, dict) and len(correction) == 1:
        correction = next(iter(correction.values()))
    start, end = run.get("start_time"), run.get("end_time")
    return {
        "source_id": str(run.get("id")) if run.get("id") is not None else None,
        "source_line": number,
        "timestamp": start,
        "model": params.get("model")
        or params.get("model_name")
        or metadata.get("ls_model_name")
        or llm_output.get("model_name"),
        "prompt_version": metadata.get("prompt_version"),
        "messages": messages,
        "output": text,
        "tool_calls": calls,
        "tools": to_json(params.get("tools")) if params.get("tools") else None,
        "finish_reason": normalize_finish(finish),
        "error": run.get("error"),
        "prompt_tokens": run.get("prompt_tokens") or usage.get("prompt_tokens"),
        "completion_tokens": run.get("completion_tokens") or usage.get("completion_tokens"),
        "latency_ms": elapsed_ms(start, end),
        "ttft_ms": elapsed_ms(start, run.get("first_token_time")),
        "cost": run.get("total_cost"),
        "feedback_score": chosen.get("score") if chosen else None,
        "feedback_comment": chosen.get("comment") if chosen else None,
        "correction": to_json(correction),
        "metadata": to_json(
            {
                "run_name": run.get("name"),
                "trace_id": run.get("trace_id"),
                "parent_run_id": run.get("parent_run_id"),
                "tags": run.get("tags"),
                "feedback": [
                    {k: f.get(k) for k in ("key", "score", "value", "comment")} for f in feedback
                ]
                or None,
                "metadata": metadata or None,
            }
        ),
        "_raw": None,
    }


class LangSmith(LogFormat):
    name: ClassVar[str] = "langsmith"
    priority: ClassVar[int] = 40
    expects: ClassVar[str] = (
        "LangSmith run exports: runs with `run_type`, `inputs`, `outputs` (a JSON list, one per "
        "line, or {runs, feedback})"
    )

    def sniff(self, sample: Sample) -> bool:
        return any(_is_run(o) for obj in sample.objects[:5] for o in _expand(obj))

    def read(self, source: Source, ctx: ReadContext) -> Iterator[Batch]:
        runs: list[tuple[int, dict[str, Any]]] = []
        feedback: dict[str, list[dict[str, Any]]] = {}
        quarantined: list[Quarantined] = []
        skipped: Counter[str] = Counter()
        for number, raw, item in iter_json_items(source, ctx):
            if isinstance(item, Exception):
                quarantined.append(Quarantined(number, f"not valid JSON: {item}", cut_raw(raw)))
                continue
            for obj in _expand(item):
                if _is_feedback(obj):
                    feedback.setdefault(str(obj["run_id"]), []).append(obj)
                elif not _is_run(obj):
                    quarantined.append(
                        Quarantined(
                            number,
                            "not a LangSmith run (needs `run_type` and `inputs`/`outputs`) "
                            "nor feedback (needs `run_id` and `key`)",
                            cut_raw(raw or to_json(obj)),
                        )
                    )
                elif obj.get("run_type") != "llm":
                    skipped[f"{obj.get('run_type')} runs (only llm runs are model calls)"] += 1
                else:
                    runs.append((number, obj))
        rows = []
        for number, run in runs:
            try:
                own = list(run.get("feedback") or []) + feedback.get(str(run.get("id")), [])
                rows.append(run_record(run, [f for f in own if isinstance(f, dict)], number))
            except SHAPE_ERRORS as exc:
                quarantined.append(shape_error(number, "", run, exc))
        yield Batch(records_frame(rows), quarantined, dict(skipped))
