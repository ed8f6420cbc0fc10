"""`curate review`: the resolved labels most likely wrong (core/suspicion.py), and a second
look at them in Argilla."""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.core.project import Project
from curate.queue.stage import REVIEW, dataset_name, push_queue


def review_queue(
    project: Project,
    task: str | None = None,
    limit: int = 20,
    push: bool = False,
    min_suspicion: float = 0.3,
) -> dict[str, Any]:
    """The resolved labels most likely wrong (core/suspicion.py), most suspicious first; with
    `push`, those at or above `min_suspicion` go to a review dataset per task
    (`curate-TASK-review`) for a second look, which a pull of that dataset brings back."""
    from curate.core.suspicion import suspicions

    workspace = project.workspace
    workspace.require()
    found = suspicions(workspace, project.tasks)
    if task is not None:
        project.config.require_task(task)
        found = found.filter(pl.col("task") == task)
    flagged = found.filter(pl.col("suspicion") >= min_suspicion)
    out: dict[str, Any] = {
        "labels": found.height,
        "suspected": flagged.height,
        "min_suspicion": min_suspicion,
        "records": found.head(limit).to_dicts(),
        "pushed": [],
    }
    if push:
        for (name,), mine in flagged.group_by("task", maintain_order=True):
            target = dataset_name(name, None) + REVIEW
            ids = set(mine["record_id"])
            for result in push_queue(project, task=name, dataset=target, only=ids):
                out["pushed"].append(result.to_dict())
    return out
