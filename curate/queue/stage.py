"""The queue stage: candidates to Argilla for people to label, and their answers back.

`push_queue` turns the `candidates` of a task into Argilla records (the Argilla record id is the
record_id): fields a person reads (the conversation, the model's output, the two records side
by side for entity pairs, what the detectors found), questions (the label, the corrected
output, "is this a failure?"), the model's own answer as suggestions, metadata to filter on.
A re-push updates records and never duplicates one, and never touches a record that someone
has already answered.

`pull_queue` stores every submitted or discarded response in `annotations` (history kept
across pulls), measures agreement per question, and resolves each record by a stated policy.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from curate.core.annotations import ADJUDICATION, POLICIES, agreement, latest_answers, resolve
from curate.core.answers import (
    by_reference,
    contradicting_references,
    reference_audit,
    referenced_records,
)
from curate.core.errors import ConfigError, QueueError
from curate.core.project import Project
from curate.core.redact import Policy, redact_queue_records, save_mapping
from curate.core.suggestions import judge_agreement, latest_suggestions
from curate.core.suspicion import gold_answers, task_quality
from curate.core.tables import ANNOTATIONS_SCHEMA
from curate.core.tasks import Task
from curate.core.workspace import StageRun, now_utc
from curate.queue.argilla import PUSH_BATCH, connection, render_record
from curate.queue.backend import CORRECTED, IS_FAILURE, LABEL, QueueBackend, questions_for
from curate.queue.records import candidate_rows, gold_rows

# -- push --------------------------------------------------------------------------------------


def _check_settings(queue: QueueBackend, dataset, task: Task) -> None:
    have = queue.questions(dataset)
    for name, labels in questions_for(task).items():
        if name not in have:
            raise QueueError(
                f"the Argilla dataset {dataset.name!r} exists with other questions "
                f"({', '.join(have)}); push to another one with --dataset NAME, or delete it in "
                "the Argilla UI"
            )
        if labels is not None and (have[name] or []) != labels:
            raise QueueError(
                f"the Argilla dataset {dataset.name!r} asks {name!r} with labels "
                f"{have[name]}, but the task's are {labels}: push to "
                "another dataset with --dataset NAME, or delete that one in the Argilla UI"
            )


@dataclass
class PushResult:
    dataset: str
    url: str
    pushed: int = 0
    kept_answered: int = 0
    created: bool = False
    answered_by_reference: int = 0  # [tasks.NAME.answers] references = trust / audit
    gold: int = 0  # of those, pushed as gold (gold_share) to measure the annotators
    overlap: int = 0  # of those, to the overlap dataset (overlap_share), for more people each
    overlap_dataset: str | None = None
    # candidates whose input has references that disagree: pushed to people instead
    contradicting_references: int = 0
    redacted: dict[str, int] = field(default_factory=dict)  # entity type -> values replaced

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


REVIEW = "-review"  # curate review's second look: curate-TASK-review
OVERLAP = "-overlap"  # [tasks.NAME.queue] overlap_share: the records answered twice


def dataset_name(task: str, dataset: str | None) -> str:
    return dataset or f"curate-{task}"


def _task_names(candidates: pl.DataFrame, task: str | None, dataset: str | None) -> list[str]:
    """The tasks to push or pull; --dataset names one dataset, so it needs one task."""
    names = [task] if task else sorted(candidates["task"].unique().drop_nulls())
    if dataset is not None and len(names) > 1:
        raise ConfigError(
            f"--dataset {dataset!r} names one Argilla dataset, but the candidates hold "
            f"{len(names)} tasks ({', '.join(names)}): add --task NAME to use it for one task, "
            "or leave --dataset out (each task then has its own dataset, curate-TASK)"
        )
    return names


def push_queue(
    project: Project,
    task: str | None = None,
    dataset: str | None = None,
    progress=None,
    only: set[str] | None = None,
    notes: dict[str, str] | None = None,
) -> list[PushResult]:
    """Send the candidates of each task (or of `task`; `only` these records) to Argilla; see
    the module docstring.

    Holds the workspace lock throughout: the candidates pushed are the ones the run records.
    """
    project.workspace.require()
    with project.workspace.stage("queue push", {"task": task, "dataset": dataset}) as run:
        results = _push(project, task, dataset, progress, only, notes)
        run.counts = {r.dataset: r.pushed for r in results}
    return results


def _push(project: Project, task, dataset, progress, only=None, notes=None) -> list[PushResult]:
    workspace, config = project.workspace, project.config
    candidates = workspace.read_table("candidates", needed_by="curate queue push")
    if only is not None:
        candidates = candidates.filter(pl.col("record_id").is_in(sorted(only)))
    tasks = project.tasks
    names = _task_names(candidates, task, dataset)
    if task is not None and task not in tasks:
        config.require_task(task)
    queue = project.queue()
    min_submitted = int(config.section("argilla").get("min_submitted", 1))
    findings = workspace.read_table("findings", needed_by="curate queue push")
    referenced = referenced_records(workspace)
    known = by_reference(referenced, candidates, tasks)["record_id"].unique()
    if only is not None:  # a second look (curate review): the references are what is in doubt
        known = known.clear()
    results = []
    for name in names:
        mine = candidates.filter(pl.col("task") == name)
        records = candidate_rows(
            workspace, mine.filter(~pl.col("record_id").is_in(known.implode())), findings
        )
        gold = gold_rows(workspace, tasks[name], mine, known, records.height, findings)
        if gold.height:
            records = pl.concat([records, gold.select(records.columns)], how="vertical_relaxed")
        if notes:  # what the adjudicator reads beside the detectors' evidence
            note = pl.col("record_id").replace_strict(notes, default="", return_dtype=pl.String)
            records = records.with_columns(
                pl.concat_str(note, pl.col("evidence").fill_null(""), separator="\n\n")
                .str.strip_chars()
                .alias("evidence")
            )
        target = dataset_name(name, dataset)
        result = PushResult(dataset=target, url=queue.url)
        result.gold = gold.height
        result.answered_by_reference = mine.height - records.height
        if tasks[name].references in ("trust", "audit"):
            contradicted = contradicting_references(referenced, tasks[name])
            result.contradicting_references = mine.join(
                contradicted, on="record_id", how="semi"
            ).height
        people = int(tasks[name].queue.get("annotators", min_submitted))
        # the share answered twice is of the task's own dataset, not of a second look (curate
        # review) or an adjudication (`only`), which go to one dataset each
        share = float(tasks[name].queue.get("overlap_share", 0)) if only is None else 0.0
        once, twice = overlap_split(records, share)
        if twice.height:
            result.overlap_dataset = target + OVERLAP
            twice_people = max(int(tasks[name].queue.get("overlap_annotators", 2)), 2)
            result.overlap = _push_to(
                project, queue, target + OVERLAP, twice_people, twice, name, result, progress
            )
        _push_to(project, queue, target, people, once, name, result, progress)
        results.append(result)
    return results


def overlap_split(records: pl.DataFrame, share: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(answered by `annotators`, answered by `overlap_annotators`): the share of records for
    the overlap dataset, chosen by a hash of the record id, so that a record is always in the
    same one, push after push."""
    if share <= 0 or records.height == 0:
        return records, records.clear()
    import hashlib

    twice = [
        int.from_bytes(hashlib.sha256(r.encode()).digest()[:8], "big") < share * 2**64
        for r in records["record_id"]
    ]
    mask = pl.Series(twice, dtype=pl.Boolean)
    return records.filter(~mask), records.filter(mask)


def _push_to(project, queue, target, people, records, name, result, progress) -> int:
    """The records not answered yet to dataset `target` (made, for `people` each, if new); how
    many were sent."""
    task = project.tasks[name]
    existing = queue.dataset(target)
    if existing is None:
        existing = queue.create_dataset(target, task, people)
        result.created = True
    else:
        _check_settings(queue, existing, task)
    answered = _answered_ids(queue, existing)
    result.kept_answered += sum(1 for r in records["record_id"] if r in answered)
    rows = records.filter(~pl.col("record_id").is_in(list(answered))).to_dicts()
    policy = Policy.of(task)
    sent = 0
    for start in range(0, len(rows), PUSH_BATCH):
        chunk = rows[start : start + PUSH_BATCH]
        batch = [render_record(row, task) for row in chunk]
        if policy is not None and "queue" in policy.where:
            batch, found = redact_queue_records(batch, chunk, task, policy)
            save_mapping(project.workspace, found)
            for entity, n in found.counts.items():
                result.redacted[entity] = result.redacted.get(entity, 0) + n
        queue.log(existing, batch)
        sent += len(batch)
        if progress is not None:
            progress(target, len(batch), len(rows))
    result.pushed += sent
    return sent


def _answered_ids(queue: QueueBackend, dataset) -> set[str]:
    """external ids of the records with at least one submitted or discarded response."""
    return {
        item["external_id"]
        for item in queue.records(dataset)
        if any(r["status"] in ("submitted", "discarded") for r in item.get("responses") or [])
    }


def _open(project: Project, task, dataset, needed_by: str):
    """(the candidates, the tasks asked for, the queue) for a command on the queue."""
    project.workspace.require()
    candidates = project.workspace.read_table("candidates", needed_by=needed_by)
    return candidates, _task_names(candidates, task, dataset), project.queue()


# -- pull ------------------------------------------------------------------------------------------


@dataclass
class PullResult:
    new_responses: int = 0
    responses: int = 0
    records_answered: int = 0
    agreement: dict[str, dict[str, Any]] = field(default_factory=dict)
    # per task with references = audit / trust: people against the references
    reference_audit: dict[str, dict[str, Any]] = field(default_factory=dict)
    # per task, when a judge suggested answers: the judge against people
    judge: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolved: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    policy: str = "majority"
    # per task: the question annotators are measured on, and each annotator's quality
    # (core/annotations.annotator_quality: agreement with the others, gold accuracy, weight)
    annotators: dict[str, dict[str, Any]] = field(default_factory=dict)
    # per task: the adjudication dataset the conflicts went to, how many, how many decided
    adjudication: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def pull_queue(
    project: Project,
    task: str | None = None,
    dataset: str | None = None,
    policy: str = "majority",
    prefer_user: str | None = None,
    adjudicate: bool = True,
) -> PullResult:
    """Store the responses, measure agreement, resolve; tables `annotations` and `resolved`.
    The records still in conflict go to each task's adjudication dataset (`adjudicate`), whose
    answers decide at the next pull."""
    if policy not in POLICIES:
        raise ConfigError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    if policy == "prefer-user" and not prefer_user:
        raise ConfigError("--policy prefer-user needs the user: --prefer-user NAME")
    workspace = project.workspace
    candidates, names, queue = _open(project, task, dataset, "curate queue pull")
    users = queue.users()
    pulled_at = now_utc().isoformat()
    rows = []
    for name, target in _pulled(names, dataset):
        remote = queue.dataset(target)
        if remote is None:
            continue
        for item in queue.records(remote):
            for response in item.get("responses") or []:
                if response["status"] not in ("submitted", "discarded"):
                    continue
                for question, answer in (response.get("values") or {"_": {"value": None}}).items():
                    rows.append(
                        {
                            "record_id": item["external_id"],
                            "dataset": target,
                            "task": name,
                            "user_id": response["user_id"],
                            "username": users.get(response["user_id"]),
                            "status": response["status"],
                            "question": question,
                            "value": json.dumps((answer or {}).get("value")),
                            "answered_at": response.get("updated_at"),
                            "pulled_at": pulled_at,
                        }
                    )
    fresh = pl.DataFrame(rows, schema=ANNOTATIONS_SCHEMA) if rows else ANNOTATIONS_SCHEMA.to_frame()
    gold = gold_answers(workspace, project.tasks)
    with workspace.stage("queue pull", {"policy": policy}) as run:
        result = _store_answers(run, fresh, policy, prefer_user, project.tasks, gold)
        run.counts = {"new": result.new_responses}
    resolved = workspace.read_table("resolved", empty=True)
    result.reference_audit = reference_audit(referenced_records(workspace), resolved, project.tasks)
    result.judge = judge_agreement(latest_suggestions(workspace), resolved, candidates)
    if adjudicate:
        result.adjudication = _adjudicate(project, candidates, result.conflicts, dataset)
    return result


def _pulled(names: list[str], dataset: str | None) -> list[tuple[str, str]]:
    """(task, dataset) to pull: each task's dataset (or --dataset), and its review and
    adjudication datasets (curate review's second look, the conflicts)."""
    suffixes = ("", OVERLAP, REVIEW, ADJUDICATION)
    return [(name, dataset_name(name, dataset) + suffix) for name in names for suffix in suffixes]


def _adjudicate(
    project: Project,
    candidates: pl.DataFrame,
    conflicts: list[dict[str, Any]],
    dataset: str | None,
) -> dict[str, dict[str, Any]]:
    """The conflicts, to each task's adjudication dataset, with every answer and its annotator,
    the reference and the judge's answer where there are any: what the adjudicator decides on."""
    from curate.core.suspicion import gold_answers

    if not conflicts:
        return {}
    task_of = dict(candidates.select("record_id", "task").iter_rows())
    gold = gold_answers(project.workspace, project.tasks)
    judged = dict(latest_suggestions(project.workspace).select("record_id", "label").iter_rows())
    notes: dict[str, dict[str, str]] = defaultdict(dict)
    for conflict in conflicts:
        record_id = conflict["record_id"]
        task = task_of.get(record_id)
        if task is None:
            continue
        lines = notes[task].get(record_id, "**Answers so far** (they conflict)")
        lines += f"\n- {conflict['question']}: " + "; ".join(
            f"{who}: `{value}`" for who, value in sorted(conflict["answers"].items())
        )
        notes[task][record_id] = lines
    out = {}
    for task, by_record in sorted(notes.items()):
        for record_id in by_record:
            extra = []
            if gold.get(task, {}).get(record_id) is not None:
                extra.append(f"- the reference says `{gold[task][record_id]}`")
            if judged.get(record_id) is not None:
                extra.append(f"- the judge says `{judged[record_id]}`")
            by_record[record_id] += "".join("\n" + e for e in extra)
        target = dataset_name(task, dataset) + ADJUDICATION
        (pushed,) = push_queue(
            project, task=task, dataset=target, only=set(by_record), notes=by_record
        )
        out[task] = {"dataset": target, "sent": pushed.pushed, "answered": pushed.kept_answered}
    return out


def _store_answers(
    run: StageRun,
    fresh: pl.DataFrame,
    policy: str,
    prefer_user: str | None,
    tasks: dict[str, Task],
    gold: dict[str, dict[str, Any]],
) -> PullResult:
    """Add the pulled answers to the history; agreement, annotator quality and resolution
    over the latest."""
    history = run.workspace.read_table("annotations", empty=True)
    key = ["record_id", "user_id", "question", "value", "status", "answered_at"]
    new = fresh.join(history, on=key, how="anti", nulls_equal=True)
    everything = pl.concat([history, new])
    run.write("annotations", everything)
    result = PullResult(
        new_responses=new.select([*key[:2], "answered_at"]).unique().height, policy=policy
    )
    latest = latest_answers(everything)
    result.responses = latest.select("record_id", "user_id").unique().height
    result.records_answered = latest["record_id"].n_unique()
    result.agreement = agreement(latest)
    result.annotators = task_quality(latest, tasks, gold)
    resolved, conflicts = _resolve(latest, policy, prefer_user, result.annotators)
    result.resolved, result.conflicts = resolved.height, conflicts
    run.write("resolved", resolved)
    return result


def _resolve(latest, policy, prefer_user, quality):
    """resolve() per task: under `weighted`, each task's votes weigh by its annotators."""
    if policy != "weighted":
        return resolve(latest, policy, prefer_user)
    frames, conflicts = [], []
    for name in latest["task"].unique(maintain_order=True).to_list():
        mine = latest.filter(pl.col("task").eq_missing(name))
        people = quality.get(name, {}).get("annotators", {})
        weights = {who: q["vote_weight"] for who, q in people.items()}
        frame, found = resolve(mine, policy, prefer_user, weights)
        frames.append(frame)
        conflicts += found
    return pl.concat(frames) if frames else resolve(latest, policy, prefer_user)[0], conflicts


# -- status ------------------------------------------------------------------------------------


def queue_status(
    project: Project, dataset: str | None = None, task: str | None = None
) -> dict[str, Any]:
    """Pending / completed / discarded records, per stratum and per annotator."""
    candidates, names, queue = _open(project, task, dataset, "curate queue status")
    users = queue.users()
    out: dict[str, Any] = {}
    for name in names:
        target = dataset_name(name, dataset)
        remote = queue.dataset(target)
        if remote is None:
            out[name] = {"dataset": target, "pushed": False}
            continue
        twice = queue.dataset(target + OVERLAP)
        twice_items = queue.records(twice) if twice is not None else []
        items = [*queue.records(remote), *twice_items]
        rows, per_user = [], Counter()
        for item in items:
            statuses = [r["status"] for r in item.get("responses") or []]
            state = (
                "discarded"
                if "discarded" in statuses and "submitted" not in statuses
                else ("completed" if item.get("status") == "completed" else "pending")
            )
            rows.append({"record_id": item["external_id"], "state": state})
            for response in item.get("responses") or []:
                per_user[
                    (users.get(response["user_id"], response["user_id"]), response["status"])
                ] += 1
        states = pl.DataFrame(rows, schema={"record_id": pl.String, "state": pl.String})
        joined = states.join(candidates.select("record_id", "stratum"), on="record_id", how="left")
        by_stratum: dict[str, dict[str, int]] = defaultdict(dict)
        for stratum, state, n in (
            joined.group_by("stratum", "state").len().sort("stratum").iter_rows()
        ):
            by_stratum[stratum or "(none)"][state] = n
        out[name] = {
            "dataset": target,
            "pushed": True,
            "totals": dict(Counter(states["state"])),
            "by_stratum": dict(by_stratum),
            "by_annotator": {f"{u} ({s})": n for (u, s), n in sorted(per_user.items())},
        }
        if twice is not None:  # overlap_share: counted in the totals above too
            out[name]["overlap"] = {"dataset": target + OVERLAP, "records": len(twice_items)}
        side = queue.dataset(target + ADJUDICATION)
        if side is not None:  # conflicts waiting for an adjudicator
            waiting = [i for i in queue.records(side) if not _answered(i)]
            out[name]["adjudication"] = {"dataset": target + ADJUDICATION, "waiting": len(waiting)}
    return out


def _answered(item: dict[str, Any]) -> bool:
    return any(r["status"] == "submitted" for r in item.get("responses") or [])


__all__ = [
    "CORRECTED",
    "IS_FAILURE",
    "LABEL",
    "POLICIES",
    "PullResult",
    "PushResult",
    "connection",
    "dataset_name",
    "pull_queue",
    "push_queue",
    "queue_status",
]
