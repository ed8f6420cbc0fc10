"""Known answers need no labelling: the logs' references as resolved answers.

A task's `[tasks.NAME.answers] references` says what a reference is worth:

  ignore   (default) people label every candidate, references or not;
  trust    a candidate with a reference is answered by it: not pushed, exported with source
           `reference`;
  audit    as trust, but a seeded share (`audit_share`, default 0.1) of them is still pushed;
           people's answers win on those, and the agreement between people and references says
           whether the gold data is gold.

A reference answers as people would: for a task with labels, the label (the reference read as
the task reads labels) and whether the model's output was a failure (its label differs, or a
detector found something); for other tasks, the corrected output itself.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import polars as pl

from curate.core.annotations import kappa_with_interval
from curate.core.tasks import Task
from curate.core.text import label_key
from curate.core.workspace import Workspace

DEFAULT_AUDIT_SHARE = 0.1


def audited(record_id: str, task: Task) -> bool:
    """With `audit`: whether this referenced candidate goes to people anyway (seeded, stable)."""
    share = float(task.answers.get("audit_share", DEFAULT_AUDIT_SHARE))
    seed = int(task.answers.get("audit_seed", 0))
    digest = hashlib.sha256(f"{seed}:{record_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def referenced_records(workspace: Workspace) -> pl.DataFrame:
    """record_id, task, input_hash, reference and the label detect read: what references
    answer from."""
    labels = workspace.read_table("labels", empty=True).select("record_id", "label")
    return (
        workspace.scan_records()
        .select("record_id", "task", "input_hash", "reference")
        .collect()
        .join(labels, on="record_id", how="left")
    )


def _reference_answer(task: Task) -> pl.Expr:
    return reference_label(task) if task.has_labels else pl.col("reference")


def contradicting_references(records: pl.DataFrame, task: Task) -> pl.DataFrame:
    """The task's records whose input has references that disagree (the same ticket referenced
    as billing and as shipping): record_id and input_hash. No reference of such an input
    answers for people: a training set would hold both answers to one input."""
    answered = records.filter(
        (pl.col("task") == task.name) & pl.col("reference").is_not_null()
    ).with_columns(_reference_answer(task).alias("_answer"))
    split = (
        answered.drop_nulls(["input_hash", "_answer"])
        .group_by("input_hash")
        .agg(pl.col("_answer").n_unique().alias("_answers"))
        .filter(pl.col("_answers") > 1)
    )
    return answered.join(split, on="input_hash", how="semi").select("record_id", "input_hash")


def reference_label(task: Task) -> pl.Expr:
    """The reference read as one of the task's labels (null when it is none)."""
    return label_key(pl.col("reference"), task.case_sensitive).replace_strict(
        task.terms(), default=None, return_dtype=pl.String
    )


def by_reference(
    records: pl.DataFrame, candidates: pl.DataFrame, tasks: dict[str, Task]
) -> pl.DataFrame:
    """The candidates a reference answers (trust: all with one; audit: all but the audited
    share), as resolved answers: record_id, question, value (JSON text), source. A candidate
    whose input has contradicting references is answered by none: people label it.

    `records` holds record_id, task, reference and the label read (`label`, null when none)."""
    from curate.core.tables import CORRECTED, IS_FAILURE, LABEL

    rows: list[dict[str, Any]] = []
    failing = set(candidates.filter(~pl.col("is_control"))["record_id"])
    for name, task in tasks.items():
        if task.references not in ("trust", "audit"):
            continue
        mine = (
            records.join(
                candidates.filter(pl.col("task") == name).select("record_id"), on="record_id"
            )
            .filter(pl.col("reference").is_not_null())
            .join(contradicting_references(records, task), on="record_id", how="anti")
            .with_columns(_reference_answer(task).alias("_answer"))
        )
        for record_id, answer, label in mine.select("record_id", "_answer", "label").iter_rows():
            if answer is None or (task.references == "audit" and audited(record_id, task)):
                continue
            if task.has_labels:
                wrong = record_id in failing or label != answer
                answers = {LABEL: answer, IS_FAILURE: "yes" if wrong else "no"}
            else:
                answers = {CORRECTED: answer, IS_FAILURE: "yes" if record_id in failing else "no"}
            rows += [
                {
                    "record_id": record_id,
                    "question": q,
                    "value": json.dumps(v),
                    "source": "reference",
                }
                for q, v in answers.items()
            ]
    schema = {
        "record_id": pl.String,
        "question": pl.String,
        "value": pl.String,
        "source": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def reference_audit(
    records: pl.DataFrame, resolved: pl.DataFrame, tasks: dict[str, Task]
) -> dict[str, dict[str, Any]]:
    """Per task with labels and references: how often the label people resolved is the
    reference's, on the records people answered (Cohen's kappa with its 95% interval)."""

    from curate.core.tables import LABEL

    out: dict[str, dict[str, Any]] = {}
    people = resolved.filter(pl.col("question") == LABEL).select(
        "record_id", pl.col("value").str.json_decode(pl.String).alias("people")
    )
    for name, task in tasks.items():
        if not task.has_labels or task.references == "ignore":
            continue
        both = (
            records.filter((pl.col("task") == name) & pl.col("reference").is_not_null())
            .select("record_id", reference_label(task).alias("reference"))
            .join(people, on="record_id")
            .drop_nulls()
        )
        if both.height == 0:
            out[name] = {"records": 0}
            continue
        agree = int((both["reference"] == both["people"]).sum())
        summary: dict[str, Any] = {
            "records": both.height,
            "agreement": round(agree / both.height, 4),
            "disagreements": both.filter(pl.col("reference") != pl.col("people"))
            .head(20)
            .to_dicts(),
            "kappa": None,
            "kappa_ci": None,
        }
        summary["kappa"], summary["kappa_ci"] = kappa_with_interval(
            both["reference"].to_list(), both["people"].to_list()
        )
        out[name] = summary
    return out


__all__ = [
    "audited",
    "by_reference",
    "contradicting_references",
    "reference_audit",
    "reference_label",
    "referenced_records",
]
