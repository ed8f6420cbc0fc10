"""`curate redact --preview`: what redaction would replace in the queue's records, before any
push: counts by entity type and examples before and after. Nothing is written."""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.core.redact import Policy, engine, redact_queue_records
from curate.queue.argilla import render_record
from curate.queue.records import candidate_rows


def redaction_preview(project, task: str | None = None, limit: int = 5) -> dict[str, Any]:
    """What redaction would replace in the candidates, per task with a policy, as the queue
    would show them: counts by entity type and up to `limit` examples before and after.
    Nothing is written (no mapping either)."""
    workspace = project.workspace
    candidates = workspace.read_table("candidates", needed_by="curate redact --preview")
    findings = workspace.read_table("findings", needed_by="curate redact --preview")
    names = [task] if task else sorted(candidates["task"].unique().drop_nulls())
    _, has_ner = engine()
    out: dict[str, Any] = {"ner": has_ner, "tasks": {}}
    for name in names:
        spec = project.task(name)
        policy = Policy.of(spec)
        if policy is None:
            out["tasks"][name] = {"policy": None}
            continue
        rows = candidate_rows(workspace, candidates.filter(pl.col("task") == name), findings)
        rows = rows.to_dicts()
        records = [render_record(row, spec) for row in rows]
        redacted, found = redact_queue_records(records, rows, spec, policy)
        examples = []
        for before, after in zip(records, redacted, strict=True):
            for shown, text in before["fields"].items():
                if text != after["fields"][shown] and len(examples) < limit:
                    examples.append(
                        {
                            "record_id": before["id"],
                            "field": shown,
                            "before": text,
                            "after": after["fields"][shown],
                        }
                    )
        out["tasks"][name] = {
            "policy": {
                "entities": list(policy.entities),
                "action": policy.action,
                "actions": policy.actions,
                "where": list(policy.where),
                "keep_fields": list(policy.keep_fields),
            },
            "records": len(records),
            "records_with_personal_data": sum(
                1 for a, b in zip(records, redacted, strict=True) if a != b
            ),
            "counts": dict(found.counts.most_common()),
            "examples": examples,
        }
    return out


__all__ = ["redaction_preview"]
