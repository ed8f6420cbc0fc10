"""Records written straight into a workspace, and detect run over them."""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.core.config import Config
from curate.core.project import Project
from curate.core.records import finalize
from curate.core.workspace import Workspace
from curate.detect.stage import find_failures, read_findings
from curate.ingest.formats.base import records_frame

LABELS = {
    "kind": "pair_match",
    "labels": ["match", "non_match"],
    "synonyms": {"match": ["yes", "same"], "non_match": ["no", "different"]},
    "parse": {"mode": "json", "field": "decision"},
}
TOPICS = {"kind": "classification", "labels": ["billing", "technical", "other"]}


def put(ws: Workspace, rows: list[dict[str, Any]], task: str | None = None) -> list[str]:
    """Write records (canonical fields; ids and inputs filled in) and return their record_ids."""
    filled = []
    for i, row in enumerate(rows):
        row = dict(row)
        row.setdefault("source_id", f"r{i}-{id(rows)}")
        row.setdefault("messages", [{"role": "user", "content": f"input {i}"}])
        row.setdefault("task", task)
        filled.append(row)
    frame = finalize(records_frame(filled), source_format="test", task=None)
    frame.write_parquet(ws.part_path("records"))
    return frame["record_id"].to_list()


def detect(
    ws: Workspace,
    detector: str,
    tasks: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    config_path=None,
) -> pl.DataFrame:
    """Run one detector; its findings, in record order."""
    data: dict[str, Any] = {"tasks": tasks or {}}
    if settings is not None:
        data["detectors"] = {detector: settings}
    find_failures(Project(ws, Config(path=config_path, data=data)), only=[detector])
    return read_findings(ws).filter(pl.col("detector") == detector)


def evidence(findings: pl.DataFrame, record_id: str) -> str:
    return findings.filter(pl.col("record_id") == record_id)["evidence"].item()
