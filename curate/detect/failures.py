"""Findings joined to their records, for a person to read (`curate failures`)."""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.core.errors import CurateError
from curate.core.workspace import Workspace

SHOWN_CHARS = 600


def _cut(expr: pl.Expr) -> pl.Expr:
    return (
        pl.when(expr.str.len_chars() > SHOWN_CHARS)
        .then(expr.str.slice(0, SHOWN_CHARS) + pl.lit(" …"))
        .otherwise(expr)
    )


def list_failures(
    workspace: Workspace, detector: str | None = None, task: str | None = None, limit: int = 10
) -> tuple[int, list[dict[str, Any]]]:
    """(how many findings match, the first `limit` with input, output and evidence)."""
    workspace.require()
    findings = workspace.read_table("findings", needed_by="curate failures")
    if detector is not None:
        known = set(findings["detector"].unique())
        if detector not in known:
            from curate.detect.detectors import available

            if detector not in available():
                raise CurateError(
                    f"unknown detector {detector!r}; available: {', '.join(available())}"
                )
        findings = findings.filter(pl.col("detector") == detector)
    if task is not None:
        findings = findings.filter(pl.col("task") == task)
    total = findings.height
    chosen = findings.head(limit)
    last_user = (
        pl.col("messages")
        .list.eval(
            pl.element()
            .filter(pl.element().struct.field("role") != "system")
            .struct.field("content")
        )
        .list.last()
    )
    records = workspace.records_of(
        chosen,
        "record_id",
        _cut(last_user).alias("input"),
        _cut(pl.col("output")).alias("output"),
        "reference",
        "source",
        "source_line",
    )
    rows = chosen.join(records, on="record_id", how="left", maintain_order="left")
    return total, rows.to_dicts()
