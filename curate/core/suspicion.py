"""Likely label errors: each resolved label scored by the evidence against it.

A fine-tune learns the labels people gave, mistakes included. After a pull, every resolved label
gets a suspicion score from what disagrees with it:

- a reference (of a task whose references are trusted or audited) that says another label: 0.8;
- the judge saying another label at a score above which it has been measured right 95% of
  the time (`curate suggest`, then a pull): 0.7;
- its near-duplicate cluster: where most of the other members people labelled say another
  label, the share that do, times n / (n + 1) for n such members (one neighbour counts half);
- a lone vote from an annotator whose measured vote weight is low (under 0.5, measured on five
  records or more): 0.4.

Each piece is a chance that the label is wrong on that evidence alone; the score combines them
as independent: 1 - the product of (1 - each). It ranks (what `curate review` lists first) more
than it measures: a 0.8 is "a trusted source disagrees", not a calibrated probability.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.core.annotations import annotator_quality, latest_answers
from curate.core.answers import reference_label, referenced_records
from curate.core.suggestions import judge_agreement, latest_suggestions
from curate.core.tables import IS_FAILURE, LABEL
from curate.core.tasks import Task

REFERENCE, JUDGE, LONE_VOTE = 0.8, 0.7, 0.4
LOW_WEIGHT, MEASURED_ON = 0.5, 5

SCHEMA = pl.Schema(
    {
        "record_id": pl.String,
        "task": pl.String,
        "label": pl.String,
        "suspicion": pl.Float64,
        "reasons": pl.List(pl.String),
    }
)


def gold_answers(workspace, tasks: dict[str, Task]) -> dict[str, dict[str, Any]]:
    """Per task with labels and trusted or audited references: record_id -> the reference's
    label, what annotators' answers are scored against."""
    known = referenced_records(workspace)
    out: dict[str, dict[str, Any]] = {}
    for name, task in tasks.items():
        if task.has_labels and task.references in ("trust", "audit"):
            mine = known.filter((pl.col("task") == name) & pl.col("reference").is_not_null())
            labels = mine.select("record_id", reference_label(task).alias("gold")).drop_nulls()
            out[name] = dict(labels.iter_rows())
    return out


def quality_question(task: Task) -> str:
    """The question annotators are compared on: the label, else whether it was a failure."""
    return LABEL if task.has_labels else IS_FAILURE


def task_quality(
    latest: pl.DataFrame, tasks: dict[str, Task], gold: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per task: the question, and each annotator's quality on it (annotator_quality)."""
    out = {}
    for name in sorted(set(latest["task"].drop_nulls())):
        if name not in tasks:
            continue
        question = quality_question(tasks[name])
        people = annotator_quality(latest.filter(pl.col("task") == name), question, gold.get(name))
        if people:
            out[name] = {"question": question, "annotators": people}
    return out


def suspicions(workspace, tasks: dict[str, Task]) -> pl.DataFrame:
    """Every resolved label with its suspicion and the reasons, most suspicious first."""
    resolved = workspace.read_table("resolved", empty=True).filter(pl.col("question") == LABEL)
    candidates = workspace.read_table("candidates", empty=True)
    if resolved.height == 0 or candidates.height == 0:
        return SCHEMA.to_frame()
    labels = resolved.join(candidates.select("record_id", "task"), on="record_id").select(
        "record_id",
        "task",
        pl.col("value").str.json_decode(pl.String).alias("label"),
        "annotators",
    )
    evidence: dict[str, list[tuple[float, str]]] = {r: [] for r in labels["record_id"]}
    gold = gold_answers(workspace, tasks)
    for record_id, label, task in labels.select("record_id", "label", "task").iter_rows():
        said = gold.get(task, {}).get(record_id)
        if said is not None and said != label:
            evidence[record_id].append((REFERENCE, f"the reference says {said!r}"))
    _judge(workspace, labels, resolved, candidates, evidence)
    _clusters(workspace, labels, evidence)
    _lone_votes(workspace, tasks, gold, labels, evidence)
    rows = []
    for record_id, task, label, _ in labels.iter_rows():
        found = evidence[record_id]
        keep = 1.0
        for weight, _ in found:
            keep *= 1 - weight
        rows.append((record_id, task, label, round(1 - keep, 4), [why for _, why in found]))
    frame = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    return frame.sort(["suspicion", "record_id"], descending=[True, False])


def _judge(workspace, labels, resolved, candidates, evidence) -> None:
    suggestions = latest_suggestions(workspace)
    if suggestions.height == 0:
        return
    measured = judge_agreement(suggestions, resolved, candidates)
    judged = suggestions.select("record_id", pl.col("label").alias("judge"), "score", "model")
    for record_id, label, task, judge, score, model in (
        labels.join(judged, on="record_id")
        .select("record_id", "label", "task", "judge", "score", "model")
        .iter_rows()
    ):
        threshold = (measured.get(task) or {}).get("threshold")
        if threshold is None or judge is None or judge == label or (score or 0) < threshold:
            continue
        why = f"the judge {model} says {judge!r} at score {score} (right 95% above {threshold})"
        evidence[record_id].append((JUDGE, why))


def _clusters(workspace, labels, evidence) -> None:
    clusters = workspace.read_table("clusters", empty=True)
    if clusters.height == 0:
        return
    members = labels.join(clusters.select("record_id", "cluster_id"), on="record_id")
    for (_,), group in members.group_by("cluster_id"):
        if group.height < 2:
            continue
        for record_id, label in group.select("record_id", "label").iter_rows():
            others = group.filter(pl.col("record_id") != record_id)["label"].to_list()
            against = [o for o in others if o != label]
            n = len(others)
            if len(against) * 2 > n:
                weight = len(against) / n * n / (n + 1)
                why = f"{len(against)} of {n} near-duplicates were labelled otherwise"
                evidence[record_id].append((weight, why))


def _lone_votes(workspace, tasks, gold, labels, evidence) -> None:
    latest = latest_answers(workspace.read_table("annotations", empty=True))
    quality = task_quality(latest, tasks, gold)
    for record_id, task, annotators in labels.select("record_id", "task", "annotators").iter_rows():
        if len(annotators or []) != 1:
            continue
        q = quality.get(task, {}).get("annotators", {}).get(annotators[0])
        if q is None or max(q["with_others"], q["gold"]) < MEASURED_ON:
            continue
        if q["vote_weight"] < LOW_WEIGHT:
            why = f"one vote, from {annotators[0]} (vote weight {q['vote_weight']})"
            evidence[record_id].append((LONE_VOTE, why))


def suspicion_of(workspace, tasks: dict[str, Task]) -> dict[str, tuple[float, list[str]]]:
    """record_id -> (suspicion, reasons), for export's --max-suspicion."""
    frame = suspicions(workspace, tasks)
    rows = frame.select("record_id", "suspicion", "reasons").iter_rows()
    return {record_id: (score, list(why)) for record_id, score, why in rows}


def label_summary(workspace, tasks: dict[str, Task], at: float = 0.3) -> dict[str, Any]:
    """Per task, for the report: agreement on its question, each annotator's quality, the
    records whose answers conflict (waiting for adjudication), and the suspected label errors
    (suspicion `at` or more), the first five."""
    from curate.core.annotations import agreement

    annotations = workspace.read_table("annotations", empty=True)
    if annotations.height == 0:
        return {}
    latest = latest_answers(annotations)
    quality = task_quality(latest, tasks, gold_answers(workspace, tasks))
    resolved = workspace.read_table("resolved", empty=True)
    asked = latest.filter(pl.col("status") == "submitted").select("record_id", "task", "question")
    open_ = asked.unique().join(resolved, on=["record_id", "question"], how="anti")
    found = suspicions(workspace, tasks)
    out: dict[str, Any] = {}
    for name in sorted(set(latest["task"].drop_nulls()) & set(tasks)):
        question = quality_question(tasks[name])
        measured = agreement(latest.filter(pl.col("task") == name)).get(question) or {}
        suspect = found.filter((pl.col("task") == name) & (pl.col("suspicion") >= at))
        out[name] = {
            "question": question,
            "agreement": {k: measured.get(k) for k in ("records", "kappa", "kappa_kind")},
            "annotators": quality.get(name, {}).get("annotators", {}),
            "in_conflict": open_.filter(pl.col("task") == name)["record_id"].n_unique(),
            "suspected": suspect.height,
            "most_suspected": suspect.head(5).to_dicts(),
        }
    return out


__all__ = [
    "gold_answers",
    "label_summary",
    "quality_question",
    "suspicion_of",
    "suspicions",
    "task_quality",
]
