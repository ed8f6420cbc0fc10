"""The detect stage: run the failure detectors over the records, write `findings`.

Records are grouped by task; each detector runs on the tasks it applies to (and says once why
it does not apply to the others). All detector plans are collected together, so polars shares
the scan of the records and runs them on all cores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from curate.detectors import FINDINGS_SCHEMA, Detector
from curate.project import Project
from curate.tables import LABELS_SCHEMA
from curate.tasks import LABEL, LABEL_RAW, LABEL_STATUS, Task, assign_tasks, output_is_json
from curate.triage import CLASSES, LEVERS, record_triage, triage_expr
from curate.workspace import Workspace


def prepared_records(
    workspace: Workspace, tasks: dict[str, Task], detectors: list[Detector]
) -> pl.DataFrame:
    """The records with their task assigned, read once for every detector.

    `messages` (the bulk of a record: long system prompts) is read only when a detector asks
    for it in `extra_columns`; the built-ins use `input_hash` instead.
    """
    wanted = {c for d in detectors for c in d.extra_columns}
    columns = [
        c for c in workspace.scan_records().collect_schema() if c != "messages" or c in wanted
    ]
    return assign_tasks(workspace.scan_records().select(columns), tasks).collect()


@dataclass
class DetectResult:
    """What `curate detect` found, in numbers (the CLI prints it; --json dumps it)."""

    records: int = 0
    failing_records: int = 0
    findings: int = 0
    detectors: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_task: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_model: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_prompt_version: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_applicable: list[dict[str, Any]] = field(default_factory=list)
    # per triage class: failing records (each under its most basic class), share, lever
    triage: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def find_failures(project: Project, only: list[str] | None = None) -> DetectResult:
    """Run the detectors (all, or `only` these) and write the findings table.

    With `only`, the findings of the other detectors from earlier runs are kept.
    """
    workspace = project.workspace
    workspace.require()
    tasks = project.tasks
    detectors = project.detectors(only)
    result = DetectResult()
    with workspace.stage("detect", {"only": only}) as run:
        records = prepared_records(workspace, tasks, detectors)
        per_task = records.group_by("task").len()
        result.records = int(per_task["len"].sum())
        plans: list[pl.LazyFrame] = []
        labels: list[pl.DataFrame] = [LABELS_SCHEMA.to_frame()]
        checked: dict[str, int] = {d.name: 0 for d in detectors}
        for name, count in per_task.sort("task", nulls_last=True).iter_rows():
            task = tasks.get(name) if name is not None else None
            subset = records.filter(
                pl.col("task").is_null() if name is None else pl.col("task") == name
            )
            if name is not None and task is None:
                result.warnings.append(
                    f"{count} records have task {name!r}, which curate.toml does not define: only "
                    "the detectors that need no task ran on them. Add [tasks." + name + "]."
                )
            subset = subset.with_columns(output_is_json())
            if task is not None and task.has_labels:
                subset = task.with_labels(subset)
                labels.append(
                    subset.select(
                        "record_id",
                        "task",
                        pl.col(LABEL_RAW).alias("label_raw"),
                        pl.col(LABEL).alias("label"),
                        pl.col(LABEL_STATUS).alias("label_status"),
                        task.class_of().alias("class"),
                    )
                )
            plans += _plans(detectors, subset.lazy(), task, name, count, checked, result)
        found = pl.collect_all(plans) if plans else []
        found_schema = FINDINGS_SCHEMA.to_frame().drop("triage")
        findings = pl.concat([found_schema, *found], how="vertical_relaxed")
        if only:
            previous = read_findings(workspace).filter(~pl.col("detector").is_in(only))
            findings = pl.concat([previous.drop("triage"), findings])
        labelled = pl.concat(labels, how="vertical_relaxed")
        findings = _triaged(findings, records, labelled).sort("record_id", "detector")
        run.write("findings", findings)
        run.write("labels", labelled)
        _summarize(result, findings, records, detectors, checked)
        run.counts = {
            "records": result.records,
            "findings": result.findings,
            "failing_records": result.failing_records,
        }
    return result


def _triaged(findings: pl.DataFrame, records: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """The findings with their triage class (curate/triage.py's rules, on the record)."""
    from curate.detectors import available

    fallback = {name: cls.triage for name, cls in available().items()}
    context = records.select("record_id", "output", "reference", "finish_reason", "error").join(
        labels.select("record_id", "label", "class"), on="record_id", how="left"
    )
    return (
        findings.join(context, on="record_id", how="left", maintain_order="left")
        .with_columns(triage_expr(fallback))
        .select(FINDINGS_SCHEMA.names())
    )


def _plans(
    detectors: list[Detector],
    subset: pl.LazyFrame,
    task: Task | None,
    name: str | None,
    count: int,
    checked: dict[str, int],
    result: DetectResult,
) -> list[pl.LazyFrame]:
    plans = []
    for detector in detectors:
        reason = detector.not_applicable(task)
        if reason is not None:
            result.not_applicable.append(
                {"detector": detector.name, "task": name, "records": count, "reason": reason}
            )
            continue
        checked[detector.name] += count
        plans.append(detector.run(subset, task))
    return plans


def read_findings(workspace: Workspace) -> pl.DataFrame:
    """The findings table (empty when detect has not run)."""
    return workspace.read_table("findings", empty=True)


def _breakdown(failing: pl.DataFrame, records: pl.DataFrame, column: str) -> dict[str, Any]:
    """Per value of `column`: records, failing records, rate, and findings per detector."""
    sizes = records.group_by(column).len("records")
    failing_n = failing.group_by(column).agg(pl.col("record_id").n_unique().alias("failing"))
    per_detector = failing.group_by(column, "detector").len().sort("len", descending=True)
    table = sizes.join(failing_n, on=column, how="left", nulls_equal=True).sort(
        column, nulls_last=True
    )
    out: dict[str, Any] = {}
    for key, size, n_failing in table.iter_rows():
        n_failing = int(n_failing or 0)
        mine = per_detector.filter(pl.col(column).eq_missing(key))
        out[key if key is not None else "(none)"] = {
            "records": int(size),
            "failing_records": n_failing,
            "failure_rate": round(n_failing / size, 4) if size else 0.0,
            "detectors": {d: int(n) for d, n in mine.select("detector", "len").iter_rows()},
        }
    return out


def _summarize(
    result: DetectResult,
    findings: pl.DataFrame,
    records: pl.DataFrame,
    detectors: list[Detector],
    checked: dict[str, int],
) -> None:
    result.findings = findings.height
    result.failing_records = findings["record_id"].n_unique()
    counts = dict(findings.group_by("detector").len().iter_rows())
    for detector in detectors:
        n = int(counts.get(detector.name, 0))
        result.detectors[detector.name] = {
            "failure_type": detector.failure_type,
            "severity": detector.severity,
            "count": n,
            "checked": checked[detector.name],
            "rate": round(n / checked[detector.name], 4) if checked[detector.name] else None,
        }
    per_class = dict(record_triage(findings).group_by("triage").len().iter_rows())
    for name in CLASSES:
        n = int(per_class.get(name, 0))
        share = round(n / result.failing_records, 4) if result.failing_records else 0.0
        result.triage[name] = {"records": n, "share": share, "lever": LEVERS[name]}
    meta = records.select("record_id", "task", "model", "prompt_version")
    failing = findings.select("record_id", "detector").join(meta, on="record_id")
    result.by_task = _breakdown(failing, meta, "task")
    result.by_model = _breakdown(failing, meta, "model")
    result.by_prompt_version = _breakdown(failing, meta, "prompt_version")
