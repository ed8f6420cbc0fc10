"""The detect stage: run the failure detectors over the records, write `findings`.

Records are grouped by task; each detector runs on the tasks it applies to (and says once why
it does not apply to the others). All detector plans are collected together, so polars shares
the scan of the records and runs them on all cores.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from curate.core.engine import Engine
from curate.core.project import Project
from curate.core.tables import LABELS_SCHEMA
from curate.core.tasks import LABEL, LABEL_RAW, LABEL_STATUS, Task, assign_tasks, output_is_json
from curate.core.triage import (
    CLASSES,
    LEVERS,
    at_token_limit,
    limit_hits,
    limit_note,
    record_triage,
    triage_expr,
)
from curate.core.workspace import Workspace
from curate.detect.detectors import FINDINGS_SCHEMA, Detector, build_detectors


def record_schema(workspace: Workspace, detectors: list[Detector]) -> pl.Schema:
    """The record columns detect reads: all but `messages` (the bulk of a record: long system
    prompts), unless a detector asks for it in `extra_columns`; the built-ins use `input_hash`.
    """
    wanted = {c for d in detectors for c in d.extra_columns}
    schema = workspace.scan_records().collect_schema()
    return pl.Schema({c: t for c, t in schema.items() if c != "messages" or c in wanted})


def detect_partition(
    records: pl.DataFrame, tasks: dict[str, Task], detectors: list[Detector]
) -> dict[str, pl.DataFrame]:
    """Every applicable detector over some records: the engine-free heart of detect.

    The local engine calls it once on all records; Daft calls it on each partition, which holds
    every record of the inputs (input_hash) it holds, so a detector that compares the answers
    to one input (inconsistent) sees them all. Returns `findings` (triaged, with the record's
    model and prompt_version for the summary), `labels`, and `sizes` (records per task, model
    and prompt_version).
    """
    records = assign_tasks(records.lazy(), tasks).collect()
    plans: list[pl.LazyFrame] = []
    labels: list[pl.DataFrame] = [LABELS_SCHEMA.to_frame()]
    for name in records["task"].unique().sort(nulls_last=True):
        task = tasks.get(name) if name is not None else None
        subset = records.filter(
            pl.col("task").is_null() if name is None else pl.col("task") == name
        ).with_columns(output_is_json())
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
        lazy = subset.lazy()
        plans += [d.run(lazy, task) for d in detectors if d.not_applicable(task) is None]
    found = pl.collect_all(plans) if plans else []
    findings = pl.concat(
        [FINDINGS_SCHEMA.to_frame().drop("triage"), *found], how="vertical_relaxed"
    )
    labelled = pl.concat(labels, how="vertical_relaxed")
    findings = _triaged(findings, records, labelled).join(
        records.select("record_id", "model", "prompt_version"), on="record_id", how="left"
    )
    sizes = records.group_by("task", "model", "prompt_version").len("records")
    return {"findings": findings, "labels": labelled, "sizes": sizes}


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
    # calls that stopped at the token limit, and what became of them (curate.core.triage.limit_hits)
    token_limit: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    engine: str = "local"

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def find_failures(
    project: Project, only: list[str] | None = None, *, engine: Engine | None = None
) -> DetectResult:
    """Run the detectors (all, or `only` these) and write the findings and labels tables.

    With `only`, the findings of the other detectors from earlier runs are kept. `engine`
    (default: the project's [engine]) says where the detectors run; the answers are the same.
    """
    workspace = project.workspace
    workspace.require()
    tasks = project.tasks
    detectors = build_detectors(project.config, only)
    engine = engine or project.engine()
    result = DetectResult(engine=engine.describe())
    with workspace.stage("detect", {"only": only, "engine": engine.kind}) as run:
        parts = workspace.parts("records")
        schema = record_schema(workspace, detectors)
        total = workspace.scan_records().select(pl.len()).collect().item()
        out = engine.map_partitions(
            parts,
            schema,
            functools.partial(detect_partition, tasks=tasks, detectors=detectors),
            key="input_hash",
            rows=total,
        )
        empty = {
            "findings": FINDINGS_SCHEMA.to_frame().with_columns(
                pl.lit(None, pl.String).alias("model"),
                pl.lit(None, pl.String).alias("prompt_version"),
            ),
            "labels": LABELS_SCHEMA.to_frame(),
            "sizes": pl.DataFrame(
                schema={
                    "task": pl.String,
                    "model": pl.String,
                    "prompt_version": pl.String,
                    "records": pl.UInt32,
                }
            ),
        }
        found, labelled, sizes = (
            pl.concat([empty[name], *out.pop(name, [])], how="vertical_relaxed", rechunk=False)
            for name in ("findings", "labels", "sizes")
        )
        sizes = sizes.group_by("task", "model", "prompt_version").agg(
            pl.col("records").cast(pl.Int64).sum()
        )
        per_task = sizes.group_by("task").agg(pl.col("records").sum())
        result.records = int(per_task["records"].sum())
        checked: dict[str, int] = {d.name: 0 for d in detectors}
        for name, count in per_task.sort("task", nulls_last=True).iter_rows():
            task = tasks.get(name) if name is not None else None
            if name is not None and task is None:
                result.warnings.append(
                    f"{count} records have task {name!r}, which curate.toml does not define: only "
                    "the detectors that need no task ran on them. Add [tasks." + name + "]."
                )
            _applicable(detectors, task, name, count, checked, result)
        meta = found.select("record_id", "detector", "task", "model", "prompt_version")
        findings = found.select(FINDINGS_SCHEMA.names())
        if only:
            previous = read_findings(workspace).filter(~pl.col("detector").is_in(only))
            meta = pl.concat([meta, _with_meta(previous, workspace)])
            findings = pl.concat([previous, findings])
        # labels written in order a slice at a time, let go before the findings' sort (memory)
        run.write("labels", labelled, sort_by=["record_id"])
        del labelled
        findings = findings.sort("record_id", "detector", maintain_order=True)
        run.write("findings", findings)
        _summarize(result, findings, meta, sizes, detectors, checked)
        result.token_limit = limit_hits(at_token_limit(workspace, project.config), findings)
        note = limit_note(result.token_limit)
        if note:
            result.notes.append(note)
        run.counts = {
            "records": result.records,
            "findings": result.findings,
            "failing_records": result.failing_records,
        }
    return result


def _with_meta(findings: pl.DataFrame, workspace: Workspace) -> pl.DataFrame:
    """Findings kept from an earlier run, with their record's model and prompt_version."""
    meta = workspace.records_of(findings, "record_id", "model", "prompt_version")
    return findings.select("record_id", "detector", "task").join(meta, on="record_id", how="left")


def _triaged(findings: pl.DataFrame, records: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """The findings with their triage class (curate/core/triage.py's rules, on the record)."""
    from curate.detect.detectors import available

    fallback = {name: cls.triage for name, cls in available().items()}
    context = records.select("record_id", "output", "reference", "finish_reason", "error").join(
        labels.select("record_id", "label", "class"), on="record_id", how="left"
    )
    return (
        findings.join(context, on="record_id", how="left", maintain_order="left")
        .with_columns(triage_expr(fallback))
        .select(FINDINGS_SCHEMA.names())
    )


def _applicable(
    detectors: list[Detector],
    task: Task | None,
    name: str | None,
    count: int,
    checked: dict[str, int],
    result: DetectResult,
) -> None:
    """Count the records each detector checked on this task, and say why the others did not."""
    for detector in detectors:
        reason = detector.not_applicable(task)
        if reason is None:
            checked[detector.name] += count
        else:
            result.not_applicable.append(
                {"detector": detector.name, "task": name, "records": count, "reason": reason}
            )


def read_findings(workspace: Workspace) -> pl.DataFrame:
    """The findings table (empty when detect has not run)."""
    return workspace.read_table("findings", empty=True)


def _breakdown(failing: pl.DataFrame, sizes: pl.DataFrame, column: str) -> dict[str, Any]:
    """Per value of `column`: records, failing records, rate, and findings per detector."""
    sizes = sizes.group_by(column).agg(pl.col("records").sum())
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
    meta: pl.DataFrame,
    sizes: pl.DataFrame,
    detectors: list[Detector],
    checked: dict[str, int],
) -> None:
    """The result's figures: `meta` is each finding's record_id, detector, task, model and
    prompt_version; `sizes` the records per task, model and prompt_version."""
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
    result.by_task = _breakdown(meta, sizes, "task")
    result.by_model = _breakdown(meta, sizes, "model")
    result.by_prompt_version = _breakdown(meta, sizes, "prompt_version")
