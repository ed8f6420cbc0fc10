"""The export stage: corrected failures become an SFT training set, validated and traceable.

One example per record that annotators resolved: its original input (or a short system prompt
instead of the production one) and the corrected output as the assistant turn. JSON outputs are
re-serialized canonically and checked against the task's schema. Every example is validated
before writing (the checks of OpenAI's fine-tuning data preparation, token counts with a real
tokenizer, duplicates); what fails is listed with its reason and left out. The train/validation
split is grouped by near-duplicate cluster (no cluster on both sides), stratified by class,
seeded. `manifest.json` ties every example to its record, detectors, annotators and config.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate.core.annotations import agreement, latest_answers
from curate.core.answers import by_reference, contradicting_references, referenced_records
from curate.core.config import SEED_MAX, check_range
from curate.core.errors import ExportError, TooFewExamples
from curate.core.project import Project
from curate.core.redact import Policy
from curate.core.suspicion import suspicion_of
from curate.core.tables import IS_FAILURE, LABEL
from curate.core.tasks import Task
from curate.core.text import tokenizer
from curate.export.checks import Candidate, Checking, left_out
from curate.export.exporters import get_exporter
from curate.export.files import check_hf_dir, write_export
from curate.export.settings import MIN_EXAMPLES, ExportResult, ExportSettings
from curate.export.trainers import resolve as resolve_trainer

# a plain folder name: no separators, no "..", nothing hidden
EXPORT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_export_name(name: str) -> str:
    """The name, if it is a plain folder name under exports/; else an ExportError."""
    if not EXPORT_NAME.fullmatch(name) or ".." in name:
        raise ExportError(
            f"--name {name!r}: give a plain folder name (letters, digits, '.', '_', '-'; no '/' "
            "or '..'), e.g. --name em-v1; the export goes to the workspace's exports/NAME/"
        )
    return name


def _answers(resolved: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """record_id -> {question: resolved value (decoded)}."""
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for record_id, question, value in resolved.select("record_id", "question", "value").iter_rows():
        out[record_id][question] = json.loads(value)
    return out


def _pick_clusters(rows: list[dict[str, Any]], fraction: float, seed: int) -> set[str]:
    """Whole clusters holding about `fraction` of the rows of each class, seeded."""
    clusters: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        clusters[row["cluster_id"]].append(row)
    by_class: dict[str, list[str]] = defaultdict(list)
    for cluster_id, members in sorted(clusters.items()):
        top = Counter(m["class"] for m in members).most_common(1)[0][0]
        by_class[top].append(cluster_id)
    rng = random.Random(seed)
    picked: set[str] = set()
    for _, ids in sorted(by_class.items()):
        rng.shuffle(ids)
        want = round(sum(len(clusters[c]) for c in ids) * fraction)
        taken = 0
        for cluster_id in ids:
            if taken >= want:
                break
            picked.add(cluster_id)
            taken += len(clusters[cluster_id])
    return picked


def _split(rows: list[dict[str, Any]], fraction: float, seed: int) -> None:
    """Mark rows train/validation: whole clusters, about `fraction` of each class, seeded.
    Rows held out as the test split stay there."""
    rest = [r for r in rows if r.get("split") != "test"]
    validation = _pick_clusters(rest, fraction, seed)
    for row in rest:
        row["split"] = "validation" if row["cluster_id"] in validation else "train"


def _hold_out(rows: list[dict[str, Any]], fraction: float, seed: int) -> None:
    """--eval: about `fraction` of the failures, in whole near-duplicate clusters, marked
    `test`: a cluster with a control in it stays out of the test split, and no test cluster has
    a member in train or validation."""
    with_control = {r["cluster_id"] for r in rows if r["control"]}
    failures = [r for r in rows if r["cluster_id"] not in with_control]
    held = _pick_clusters(failures, fraction, seed + 1)
    for row in rows:
        if row["cluster_id"] in held:
            row["split"] = "test"


def export_dataset(project: Project, settings: ExportSettings) -> ExportResult:
    """Write exports/NAME/ (train.jsonl, validation.jsonl, manifest.json, README.md; with
    `trainer`, that trainer's files)."""
    settings = resolve_trainer(settings)
    assert settings.format is not None
    get_exporter(settings.format)  # an unknown one: a ConfigError that lists them
    check_range("--validation-fraction", settings.validation_fraction, 0, 1, high_open=True)
    check_range("--eval-fraction", settings.eval_fraction, 0, 1, high_open=True)
    if settings.max_suspicion is not None:
        check_range("--max-suspicion", settings.max_suspicion, 0, 1)
    check_range("--seed", settings.seed, 0, SEED_MAX)
    check_range("--max-tokens", settings.max_tokens, 1)
    check_export_name(settings.name)
    project.workspace.require()
    args = {"name": settings.name, "format": settings.format}
    if settings.trainer is not None:
        args["for"] = settings.trainer
    with project.workspace.stage("export", args) as run:
        result = _export(project, settings)
        run.counts = result.written
    return result


def _contradicted(
    known: pl.DataFrame, candidates: pl.DataFrame, tasks: dict[str, Task], resolved: pl.DataFrame
) -> int:
    """Candidates that trusted references would answer but for references that disagree on
    their input, and that people have not answered either."""
    frames = [
        contradicting_references(known, task)
        for task in tasks.values()
        if task.references in ("trust", "audit")
    ]
    if not frames:
        return 0
    waiting = candidates.join(pl.concat(frames), on="record_id", how="semi")
    return waiting.join(resolved.select("record_id"), on="record_id", how="anti").height


def _export(project: Project, settings: ExportSettings) -> ExportResult:
    workspace = project.workspace
    _check_target(workspace.root / "exports" / settings.name, settings.overwrite)
    check_hf_dir(workspace, settings.hf_dir)
    inputs = _inputs(project)
    if settings.task is not None:
        project.config.require_task(settings.task)
    names = [settings.task] if settings.task else inputs.tasks
    agreement_gate(project, names)
    result = ExportResult(folder=str(workspace.root / "exports" / settings.name))
    if inputs.contradicted:
        result.warnings.append(
            f"{inputs.contradicted} candidates have an input whose references disagree (one "
            "input, two answers): no reference answers them, so they are not exported until "
            "people label them (curate queue push) or the references are corrected"
        )
    exporter = get_exporter(settings.format)
    run = Checking(
        project=project,
        settings=settings,
        result=result,
        discarded=inputs.discarded,
        disagreed=inputs.disagreed,
        policies={name: Policy.of(task) for name, task in project.tasks.items()},
        encoding=tokenizer(),
        openai=get_exporter("openai"),
        pairs=exporter.pairs,
        template=_template(settings, exporter),
        suspicion=(
            suspicion_of(workspace, project.tasks) if settings.max_suspicion is not None else {}
        ),
    )
    excluded: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    for record in (
        inputs.records.filter(pl.col("task").is_in(names)).sort("record_id").iter_rows(named=True)
    ):
        record_id = record["record_id"]
        answers = inputs.answers.get(record_id)
        candidate = Candidate(record, project.tasks.get(record["task"]), answers)
        reason = left_out(candidate, run)
        if reason is not None:
            excluded[reason.split(":")[0]] += 1
            result.excluded_records.append({"record_id": record_id, "reason": reason})
            continue
        rows.append(
            {
                "record_id": record_id,
                "task": record["task"],
                "class": (answers or {}).get(LABEL) or record["class"],
                "failure_type": record["failure_type"],
                "control": bool(record["is_control"]),
                "model": record["model"],
                "triage": record["triage"],
                "edge_case": record["edge_case"],
                "cluster_id": record["near_duplicate_cluster"] or record["cluster_id"],
                "source": "reference" if record_id in inputs.from_reference else "people",
                "tokens": candidate.tokens,
                "template_tokens": candidate.template_tokens,
                "examples": exporter.render(candidate.example),
                "example": candidate.example,
                "eval_messages": candidate.eval_messages,
                "detectors": inputs.detectors_of.get(record_id, []),
                "annotators": inputs.annotators_of.get(record_id, []),
            }
        )
    result.excluded = dict(excluded)
    _enough(rows, excluded, settings, result)
    if settings.eval_fraction:
        _hold_out(rows, settings.eval_fraction, settings.seed)
    _split(rows, settings.validation_fraction, settings.seed)
    used = {r["task"] for r in rows}
    tasks = {name: task for name, task in project.tasks.items() if name in used}
    detectors = project.config.section("detectors")
    extra = exporter.extra_files(tasks, detectors)
    write_export(project.config, settings, rows, result, extra, tasks, detectors)
    return result


def _template(settings: ExportSettings, exporter):
    """--check-template's tokenizer, for a chat format; None without the option."""
    if settings.check_template is None:
        return None
    if not exporter.chat:
        raise ExportError(
            f"--check-template renders conversations with a chat template; --format "
            f"{settings.format} writes no conversation (use openai, sharegpt, dpo or kto)"
        )
    from curate.export.template import load_template

    return load_template(settings.check_template, settings.max_tokens)


MIN_KAPPA_RECORDS = 20  # records answered by two or more people before a kappa can gate


def agreement_gate(project: Project, names: list[str]) -> None:
    """[export] min_kappa: stop the export of a task whose annotators agree less than that on
    its label (else on whether it was a failure), or whose agreement was measured on fewer than
    [export] min_kappa_records records answered by two or more people (too few to tell)."""
    section = project.config.section("export")
    threshold = section.get("min_kappa")
    if threshold is None:
        return
    needed = int(section.get("min_kappa_records", MIN_KAPPA_RECORDS))
    latest = latest_answers(project.workspace.read_table("annotations", empty=True))
    for name in names:
        task = project.tasks.get(name)
        if task is None:
            continue
        question = LABEL if task.has_labels else IS_FAILURE
        measured = agreement(latest.filter(pl.col("task") == name)).get(question) or {}
        records, kappa = measured.get("records", 0), measured.get("kappa")
        what = f"[export] min_kappa = {threshold}: task {name!r}"
        if records < needed:
            raise ExportError(
                f"{what}: agreement on {question!r} was measured on {records} records answered "
                f"by two or more people, fewer than {needed} ([export] min_kappa_records): too "
                "few to tell. Have people answer more records twice ([argilla] min_submitted = "
                "2, or [tasks.NAME.queue] annotators = 2), pull, then export."
            )
        if kappa is None or kappa < threshold:
            shown = "undefined (every answer the same)" if kappa is None else f"{kappa}"
            raise ExportError(
                f"{what}: annotators agree with kappa {shown} ({measured.get('kappa_kind')}) on "
                f"{records} records answered twice, below {threshold}. Read the conflicts "
                "(curate queue pull lists them) and the annotators' quality, sharpen the "
                "guidelines and relabel, resolve with --policy weighted, or lower min_kappa."
            )


def _check_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not target.is_dir():
        raise ExportError(
            f"{target} is a file, not an export folder: move it, or pick another --name"
        )
    if target.exists() and not overwrite:
        raise ExportError(
            f"{target} holds an export already: pass --overwrite to replace it, or pick another "
            "--name"
        )


@dataclass
class _Inputs:
    """What export reads of the workspace: the candidates with their records and clusters, the
    resolved answers (people's, and trusted references' where people gave none)."""

    records: pl.DataFrame
    tasks: list[str]
    answers: dict[str, dict[str, Any]]
    from_reference: set[str]
    contradicted: int
    discarded: set[str]
    disagreed: set[str]  # records with submitted answers that did not resolve
    annotators_of: dict[str, list[str]]
    detectors_of: dict[str, list[str]]


def _inputs(project: Project) -> _Inputs:
    workspace, tasks = project.workspace, project.tasks
    candidates, clusters, findings = (
        workspace.read_table(name, needed_by="curate export")
        for name in ("candidates", "clusters", "findings")
    )
    annotations = workspace.read_table("annotations", empty=True)
    # what people resolved, and what references answer ([tasks.NAME.answers]) where they did not
    resolved = workspace.read_table("resolved", empty=True).select("record_id", "question", "value")
    known = referenced_records(workspace)
    referenced = by_reference(known, candidates, tasks)
    referenced = referenced.filter(~pl.col("record_id").is_in(resolved["record_id"].implode()))
    contradicted = _contradicted(known, candidates, tasks, resolved)
    if referenced.height == 0 and not workspace.has_table("resolved"):
        workspace.read_table("resolved", needed_by="curate export")  # says what to run
    annotators = (
        annotations.filter(pl.col("status") == "submitted")
        .group_by("record_id")
        .agg(pl.col("username").unique().sort())
    )
    columns = (
        "record_id",
        "task",
        "model",
        "messages",
        "output",
        "tool_calls",
        "tools",
        "metadata",
    )
    records = (
        workspace.records_of(candidates, *columns)
        .join(candidates.drop("task"), on="record_id")
        .join(
            clusters.select("record_id", pl.col("cluster_id").alias("near_duplicate_cluster")),
            on="record_id",
            how="left",
        )
    )
    return _Inputs(
        records=records,
        tasks=sorted(candidates["task"].unique().drop_nulls()),
        answers=_answers(pl.concat([resolved, referenced.select(resolved.columns)])),
        from_reference=set(referenced["record_id"]),
        contradicted=contradicted,
        discarded=set(annotations.filter(pl.col("status") == "discarded")["record_id"]),
        disagreed=_disagreed(annotations, resolved),
        annotators_of=dict(annotators.iter_rows()),
        detectors_of=dict(
            findings.group_by("record_id").agg(pl.col("detector").unique().sort()).iter_rows()
        ),
    )


def _disagreed(annotations: pl.DataFrame, resolved: pl.DataFrame) -> set[str]:
    """Records with a question people answered and no answer resolved for it (a conflict)."""
    asked = annotations.filter(pl.col("status") == "submitted").select("record_id", "question")
    open_ = asked.unique().join(resolved, on=["record_id", "question"], how="anti")
    return set(open_["record_id"])


def _enough(
    rows: list[dict[str, Any]], excluded: Counter[str], settings: ExportSettings, result
) -> None:
    """Fewer than OpenAI's minimum: stop, unless --allow-small (then a warning)."""
    if len(rows) >= MIN_EXAMPLES:
        return
    if not settings.allow_small:
        left_out = ", ".join(f"{n} {why}" for why, n in sorted(excluded.items()))
        raise TooFewExamples(
            f"only {len(rows)} examples to export (left out: {left_out or 'none'}): OpenAI "
            f"fine-tuning refuses a file of fewer than {MIN_EXAMPLES}. Label more, or pass "
            "--allow-small to write them anyway."
        )
    result.warnings.append(
        f"only {len(rows)} examples: OpenAI fine-tuning needs at least {MIN_EXAMPLES}; label more"
    )
