"""The judge's suggestions as every stage after the queue reads them: the latest answer per
record, and how well the judge agrees with people (queue pull and the report show it).

The judge itself (the calls to a model) is curate/queue/judge.py; its answers are the workspace
table `suggestions`.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.core.annotations import kappa_with_interval
from curate.core.tables import LABEL

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
TRUSTWORTHY = 0.95  # a score threshold is good enough when the judge is this accurate above it
MIN_FOR_THRESHOLD = 20


def latest_suggestions(workspace, model: str | None = None) -> pl.DataFrame:
    """Per record, the judge's answer (the latest model's, or `model`'s), without errors."""
    table = workspace.read_table("suggestions", empty=True).filter(pl.col("error").is_null())
    if model is not None:
        table = table.filter(pl.col("model") == model)
    return table.sort("asked_at").group_by("record_id", maintain_order=True).last()


def judge_agreement(
    suggestions: pl.DataFrame, resolved: pl.DataFrame, candidates: pl.DataFrame
) -> dict[str, Any]:
    """The judge against people, per task (and per class): Cohen's kappa with its interval,
    accuracy, and the accuracy of the answers scored at or above each threshold; the lowest
    threshold above which the judge is right TRUSTWORTHY of the time could label the rest."""

    people = resolved.filter(pl.col("question") == LABEL).select(
        "record_id", pl.col("value").str.json_decode(pl.String).alias("people")
    )
    both = (
        suggestions.drop_nulls("label")
        .select("record_id", "task", "model", pl.col("label").alias("judge"), "score")
        .join(people, on="record_id")
        .join(candidates.select("record_id", "class"), on="record_id", how="left")
    )
    out: dict[str, Any] = {}
    for (task,), mine in both.group_by("task", maintain_order=True):
        right = mine["judge"] == mine["people"]
        summary: dict[str, Any] = {
            "model": mine["model"][0],
            "records": mine.height,
            "accuracy": round(float(right.mean()), 4),
            "kappa": None,
            "kappa_ci": None,
            "by_class": {},
            "by_score": [],
            "threshold": None,
        }
        summary["kappa"], summary["kappa_ci"] = kappa_with_interval(
            mine["people"].to_list(), mine["judge"].to_list()
        )
        for cls, rows in mine.group_by("class", maintain_order=True):
            summary["by_class"][cls[0] or "(none)"] = {
                "records": rows.height,
                "accuracy": round(float((rows["judge"] == rows["people"]).mean()), 4),
            }
        scored = mine.filter(pl.col("score").is_not_null())
        for threshold in THRESHOLDS:
            above = scored.filter(pl.col("score") >= threshold)
            if above.height == 0:
                continue
            accuracy = round(float((above["judge"] == above["people"]).mean()), 4)
            summary["by_score"].append(
                {"threshold": threshold, "records": above.height, "accuracy": accuracy}
            )
            if (
                summary["threshold"] is None
                and accuracy >= TRUSTWORTHY
                and above.height >= MIN_FOR_THRESHOLD
            ):
                summary["threshold"] = threshold
        out[task] = summary
    return out


__all__ = [
    "MIN_FOR_THRESHOLD",
    "THRESHOLDS",
    "TRUSTWORTHY",
    "judge_agreement",
    "latest_suggestions",
]
