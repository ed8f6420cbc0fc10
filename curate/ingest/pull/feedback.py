"""Feedback that comes after the call: Langfuse scores made once their trace was pulled, and
Phoenix annotations of the spans a pull reads.

A score is often made minutes or weeks after its trace (an LLM-as-judge run, a reviewer, the
user's thumbs). A pull reads the scores made since its last one (`GET /api/public/scores`, with
the same overlap as the traces) and gives the records they are about the feedback they say,
the way `--references` corrects stored records: a score on an observation is its record's; one
on the trace goes to the trace's last generation, as when the trace was read. Only scores named
as feedback (FEEDBACK_NAMES of the langfuse format) change `feedback_score` and
`feedback_comment`, the latest one winning; others (a hallucination judge) stay what they were.

Phoenix annotations are asked for by span id (its API lists them no other way): those of the
spans a pull reads, new or re-read in the overlap. An annotation made on a span after the
overlap has passed it is not read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl

from curate.ingest.formats.langfuse import FEEDBACK_NAMES
from curate.ingest.references import correct_records


def _moment(score: dict[str, Any]) -> str:
    return str(score.get("timestamp") or score.get("createdAt") or "")


def feedback_of(scores: list[dict[str, Any]], records: pl.DataFrame) -> pl.DataFrame:
    """(record_id, feedback_score, feedback_comment) from the feedback scores, for the records
    they are about (`records`: record_id, source_id, trace_id, timestamp of langfuse records)."""
    by_observation = dict(records.select("source_id", "record_id").iter_rows())
    last = (
        records.sort("timestamp", nulls_last=False).group_by("trace_id").agg(pl.last("record_id"))
    )
    by_trace = dict(last.iter_rows())
    latest: dict[str, dict[str, Any]] = {}
    for score in sorted(scores, key=_moment):
        name = str(score.get("name", "")).lower()
        if name not in FEEDBACK_NAMES or not isinstance(score.get("value"), int | float):
            continue
        observation = score.get("observationId")
        record = (
            by_observation.get(observation) if observation else by_trace.get(score.get("traceId"))
        )
        if record is not None:
            latest[record] = score  # the latest feedback on a record wins
    return pl.DataFrame(
        {
            "record_id": list(latest),
            "feedback_score": [float(s["value"]) for s in latest.values()],
            "feedback_comment": [s.get("comment") for s in latest.values()],
        },
        schema={
            "record_id": pl.String,
            "feedback_score": pl.Float64,
            "feedback_comment": pl.String,
        },
    )


THUMBS = {"thumbs_up": 1.0, "thumbs-up": 1.0, "thumbs_down": 0.0, "thumbs-down": 0.0}


def annotation_feedback(annotations: list[dict[str, Any]], records: pl.DataFrame) -> pl.DataFrame:
    """(record_id, feedback_score, feedback_comment) from Phoenix span annotations named as
    feedback: the score, else a thumbs label (up 1, down 0); the latest by updated_at wins."""
    by_span = dict(records.select("source_id", "record_id").iter_rows())
    latest: dict[str, tuple[float, Any]] = {}
    for note in sorted(annotations, key=lambda a: str(a.get("updated_at") or "")):
        result = note.get("result") if isinstance(note.get("result"), dict) else {}
        score = result.get("score")
        if not isinstance(score, int | float):
            score = THUMBS.get(str(result.get("label", "")).lower())
        name = str(note.get("name", "")).lower()
        record = by_span.get(note.get("span_id"))
        if name in FEEDBACK_NAMES and score is not None and record is not None:
            latest[record] = (float(score), result.get("explanation") or None)
    return pl.DataFrame(
        {
            "record_id": list(latest),
            "feedback_score": [v[0] for v in latest.values()],
            "feedback_comment": [v[1] for v in latest.values()],
        },
        schema={
            "record_id": pl.String,
            "feedback_score": pl.Float64,
            "feedback_comment": pl.String,
        },
    )


def apply_annotations(workspace, annotations: list[dict[str, Any]]) -> int:
    """The stored otel records Phoenix's annotations give other feedback: corrected; how many."""
    if not annotations:
        return 0
    spans = {a.get("span_id") for a in annotations}
    records = (
        workspace.scan_records()
        .filter((pl.col("source_format") == "otel") & pl.col("source_id").is_in(list(spans)))
        .select("record_id", "source_id")
        .collect()
    )
    given = annotation_feedback(annotations, records)
    return correct_records(workspace, given, ["feedback_score", "feedback_comment"])


def apply_scores(workspace, scores: list[dict[str, Any]]) -> int:
    """The stored langfuse records the scores give other feedback: corrected; how many."""
    if not scores:
        return 0
    records = (
        workspace.scan_records()
        .filter(pl.col("source_format") == "langfuse")
        .select(
            "record_id",
            "source_id",
            "timestamp",
            pl.col("metadata").str.json_path_match("$.trace_id").alias("trace_id"),
        )
        .collect()
    )
    given = feedback_of(scores, records)
    return correct_records(workspace, given, ["feedback_score", "feedback_comment"])


_SAME_STORE = (("name", "name"), ("kind", "kind"), ("base_url", "store"), ("project", "project"))


def scores_start(manifest: dict[str, Any], key: dict[str, Any]) -> datetime | None:
    """Where the last complete pull of this store read scores up to (None: never)."""
    ends = [
        p["scores_until"]
        for p in manifest.get("pulls", [])
        if p.get("complete")
        and p.get("scores_until")
        and all(p.get(field) == key[k] for field, k in _SAME_STORE)
    ]
    return datetime.fromisoformat(max(ends)) if ends else None
