"""Read-only summaries of a workspace (for `curate status` and `curate quarantine`)."""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.core.workspace import Workspace


def _counts(frame: pl.LazyFrame, column: str) -> dict[str, int]:
    counted = (
        frame.group_by(pl.col(column).fill_null("(none)"))
        .len()
        .sort("len", descending=True)
        .collect()
    )
    return {str(k): int(v) for k, v in counted.iter_rows()}


def workspace_status(workspace: Workspace) -> dict[str, Any]:
    """Counts of the workspace's tables and the sources it has ingested."""
    manifest = workspace.manifest()
    records = workspace.scan_records()
    return {
        "workspace": str(workspace.root),
        "config": str(workspace.config_path) if workspace.config_path else None,
        "records": records.select(pl.len()).collect().item(),
        "quarantined": workspace.scan("quarantine").select(pl.len()).collect().item(),
        "by_format": _counts(records, "source_format"),
        "by_task": _counts(records, "task"),
        "by_model": _counts(records, "model"),
        "sources": manifest["sources"],
        "pulls": _last_pulls(manifest),
    }


def _last_pulls(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The last run of each pull (`curate pull`): when, what it added, where its cursor is."""
    last: dict[str, dict[str, Any]] = {}
    for entry in manifest.get("pulls", []):
        last[entry.get("name")] = entry
    keys = ("name", "kind", "base_url", "project", "finished_at", "complete", "ingested", "cursor")
    return [{k: e.get(k) for k in keys} for e in last.values()]


def quarantine_rows(workspace: Workspace, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """(how many rows are in quarantine, the first `limit` of them)."""
    workspace.require()
    table = workspace.scan("quarantine")
    total = table.select(pl.len()).collect().item()
    rows = table.sort("source", "line").head(limit).collect().to_dicts()
    return total, rows
