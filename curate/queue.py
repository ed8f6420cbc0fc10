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

import contextlib
import io
import json
import logging
import os
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from curate.config import Config
from curate.errors import ConfigError, QueueError
from curate.project import Project
from curate.tables import ANNOTATIONS_SCHEMA
from curate.tasks import Task
from curate.workspace import StageRun, Workspace, now_utc

PUSH_BATCH = 500
IS_FAILURE = "is_failure"
LABEL, CORRECTED = "label", "corrected_output"
POLICIES = ("majority", "unanimous", "prefer-user")


def connection(config: Config) -> tuple[str, str]:
    """(api_url, api_key): ARGILLA_API_URL / ARGILLA_API_KEY, else [argilla], else local."""
    from curate.stack.local import API_KEY, HOST, PORTS

    section = config.section("argilla")
    url = (
        os.environ.get("ARGILLA_API_URL")
        or section.get("api_url")
        or f"http://{HOST}:{PORTS['argilla']}"
    )
    key = os.environ.get("ARGILLA_API_KEY") or section.get("api_key") or API_KEY
    return url.rstrip("/"), key


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The SDK's warnings ("Workspace not provided") and tqdm bars stay out of curate's output."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


class ArgillaQueue:
    """The one place that talks to Argilla (the SDK, and its REST API where the SDK is slow).

    push, pull and status use only these methods, so a stand-in with the same methods can take
    its place in tests that are not about Argilla itself.
    """

    def __init__(self, client, url: str, workspace: str | None = None):
        self.client, self.url, self.workspace = client, url, workspace

    def users(self) -> dict[str, str]:
        """user id -> username."""
        with quiet():
            return {str(u.id): u.username for u in self.client.users}

    def dataset(self, name: str):
        """The dataset called `name` (in the configured workspace), or None."""
        with quiet():
            if self.workspace:
                return self.client.datasets(name=name, workspace=self.workspace)
            return self.client.datasets(name=name)

    def create_dataset(self, name: str, task: Task, min_submitted: int):
        """A new dataset with the task's fields and questions (settings_for)."""
        import argilla as rg

        with quiet():
            dataset = rg.Dataset(
                name=name,
                settings=settings_for(task, min_submitted),
                client=self.client,
                workspace=self.workspace,
            )
            return dataset.create()

    def questions(self, dataset) -> dict[str, list[str] | None]:
        """question name -> its labels (None for a text question)."""
        return {
            q.name: list(q.labels) if getattr(q, "labels", None) is not None else None
            for q in dataset.settings.questions
        }

    def log(self, dataset, records: list[dict[str, Any]]) -> None:
        """Upsert records (`_record` dicts) by id: an id already there is updated, never
        duplicated."""
        with quiet():
            dataset.records.log([to_argilla_record(r) for r in records], batch_size=PUSH_BATCH)

    def records(self, dataset) -> list[dict[str, Any]]:
        """Every record as the REST API gives it: external_id, status, responses."""
        items, offset = [], 0
        while True:
            response = self.client.http_client.get(
                f"/api/v1/datasets/{dataset.id}/records",
                params={"include": ["responses"], "offset": offset, "limit": 1000},
            )
            if response.status_code != 200:
                raise QueueError(
                    f"Argilla answered HTTP {response.status_code} listing the records of "
                    f"{dataset.name!r}: {response.text[:300]}"
                )
            page = response.json()["items"]
            items += page
            offset += len(page)
            if len(page) < 1000:
                return items


def connect(config: Config) -> ArgillaQueue:
    """The Argilla queue, or a QueueError that says what to do."""
    # the SDK's own progress bars would interleave with ours; tqdm reads this on import
    os.environ.setdefault("TQDM_DISABLE", "1")
    import argilla as rg
    import httpx

    url, key = connection(config)
    try:
        status = httpx.get(f"{url}/api/_status", timeout=10)
    except httpx.HTTPError:
        raise QueueError(
            f"cannot reach Argilla at {url}: start the local stack with `curate argilla up`, or "
            "point ARGILLA_API_URL (and ARGILLA_API_KEY) at your server"
        ) from None
    if status.status_code >= 500:
        raise QueueError(f"Argilla at {url} answers HTTP {status.status_code}: see its logs")
    me = httpx.get(f"{url}/api/v1/me", headers={"X-Argilla-Api-Key": key}, timeout=10)
    if me.status_code in (401, 403):
        raise QueueError(
            f"Argilla at {url} refused the API key: set ARGILLA_API_KEY (or [argilla] api_key) to "
            "a key of an owner or admin user (Argilla UI: My settings)"
        )
    logging.getLogger("argilla.sdk").setLevel(logging.ERROR)
    with quiet():
        client = rg.Argilla(api_url=url, api_key=key)
    return ArgillaQueue(client, url, config.section("argilla").get("workspace"))


# -- what a person sees ------------------------------------------------------------------------


def _fence(text: str | None) -> str:
    if text is None:
        return "_(no output)_"
    return "```\n" + text.replace("```", "ˋˋˋ") + "\n```"


def conversation_markdown(messages: list[dict[str, Any]] | None) -> str:
    parts = []
    for message in messages or []:
        content = message.get("content") or ""
        if message.get("role") == "system" and len(content) > 600:
            content = content[:600] + " …"
        parts.append(f"**{message.get('role')}**\n\n{content}")
    return "\n\n---\n\n".join(parts) or "_(no input logged)_"


def pair_markdown(metadata: str | None, task: Task) -> str | None:
    """The two records side by side, the fields that differ in bold."""
    if task.kind != "pair_match" or not task.pair or not metadata:
        return None
    try:
        meta = json.loads(metadata)
    except json.JSONDecodeError:
        return None
    sides = []
    for key in ("left", "right"):
        path = task.pair.get(key, f"metadata.{key}")
        value: Any = meta
        for part in path.split(".")[1:]:
            value = value.get(part) if isinstance(value, dict) else None
        sides.append(value if isinstance(value, dict) else {})
    left, right = sides
    fields = [*task.pair.get("names", []), *task.pair.get("dates", []), *task.pair.get("other", [])]
    fields += [f for f in [*left, *right] if f not in fields]
    rows = ["| field | record A | record B |", "|---|---|---|"]
    for name in dict.fromkeys(fields):
        a, b = left.get(name), right.get(name)
        mark = "" if a == b else "**"
        shown = ["—" if v is None else v for v in (a, b)]
        rows.append(f"| {mark}{name}{mark} | {shown[0]} | {shown[1]} |")
    return "\n".join(rows)


def questions_for(task: Task) -> dict[str, list[str] | None]:
    """The questions of a task's dataset: name -> labels (None for a text question)."""
    questions: dict[str, list[str] | None] = {}
    if task.has_labels:
        questions[LABEL] = list(task.labels)
    questions[CORRECTED] = None
    questions[IS_FAILURE] = ["yes", "no"]
    return questions


def settings_for(task: Task, min_submitted: int):
    """The Argilla dataset settings of a task."""
    import argilla as rg

    fields = [
        rg.TextField(name="conversation", title="Input", use_markdown=True),
        rg.TextField(name="output", title="Model output", use_markdown=True),
        rg.TextField(name="findings", title="What the detectors found", use_markdown=True),
    ]
    if task.kind == "pair_match" and task.pair:
        fields.insert(
            1, rg.TextField(name="pair", title="The two records", use_markdown=True, required=False)
        )
    questions = []
    if task.has_labels:
        questions.append(rg.LabelQuestion(name=LABEL, title="The right label", labels=task.labels))
    questions.append(
        rg.TextQuestion(
            name=CORRECTED, title="The correct output (edit the model's)", required=False
        )
    )
    questions.append(
        rg.LabelQuestion(
            name=IS_FAILURE,
            title="Was the model's output a failure?",
            labels=["yes", "no"],
            required=False,
        )
    )
    metadata = [
        rg.TermsMetadataProperty(name=name, title=name.replace("_", " "))
        for name in (
            "detectors",
            "failure_type",
            "edge_case",
            "stratum",
            "class",
            "model",
            "prompt_version",
        )
    ]
    return rg.Settings(
        fields=fields,
        questions=questions,
        metadata=metadata,
        distribution=rg.TaskDistribution(min_submitted=min_submitted),
        guidelines=(
            f"Task **{task.name}** ({task.kind}). Read the input and the model's output, give the "
            "right answer, and correct the output so that it is what the model should have said."
        ),
    )


def _check_settings(queue: ArgillaQueue, dataset, task: Task) -> None:
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


# -- push --------------------------------------------------------------------------------------


@dataclass
class PushResult:
    dataset: str
    url: str
    pushed: int = 0
    kept_answered: int = 0
    created: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


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
) -> list[PushResult]:
    """Send the candidates of each task (or of `task`) to Argilla; see the module docstring.

    Holds the workspace lock throughout: the candidates pushed are the ones the run records.
    """
    project.workspace.require()
    with project.workspace.stage("queue push", {"task": task, "dataset": dataset}) as run:
        results = _push(project, task, dataset, progress)
        run.counts = {r.dataset: r.pushed for r in results}
    return results


def _push(project: Project, task, dataset, progress) -> list[PushResult]:
    workspace, config = project.workspace, project.config
    candidates = workspace.read_table("candidates", needed_by="curate queue push")
    tasks = project.tasks
    names = _task_names(candidates, task, dataset)
    if task is not None and task not in tasks:
        config.require_task(task)
    queue = connect(config)
    min_submitted = int(config.section("argilla").get("min_submitted", 1))
    findings = workspace.read_table("findings", needed_by="curate queue push")
    results = []
    for name in names:
        records = candidate_rows(workspace, candidates.filter(pl.col("task") == name), findings)
        target = dataset_name(name, dataset)
        existing = queue.dataset(target)
        result = PushResult(dataset=target, url=queue.url)
        if existing is None:
            existing = queue.create_dataset(target, tasks[name], min_submitted)
            result.created = True
        else:
            _check_settings(queue, existing, tasks[name])
        answered = _answered_ids(queue, existing)
        result.kept_answered = sum(1 for r in records["record_id"] if r in answered)
        todo = records.filter(~pl.col("record_id").is_in(list(answered)))
        rows = todo.to_dicts()
        for start in range(0, len(rows), PUSH_BATCH):
            batch = [_record(row, tasks[name]) for row in rows[start : start + PUSH_BATCH]]
            queue.log(existing, batch)
            result.pushed += len(batch)
            if progress is not None:
                progress(target, len(batch), len(rows))
        results.append(result)
    return results


def candidate_rows(
    workspace: Workspace, candidates: pl.DataFrame, findings: pl.DataFrame
) -> pl.DataFrame:
    """The candidates with what a person sees of them: the record's input and output, and the
    detectors' evidence (`_record` turns each row into a queue record)."""
    records = (
        workspace.scan_records()
        .join(candidates.lazy().select("record_id"), on="record_id", how="semi")
        .select("record_id", "messages", "output", "metadata", "model", "prompt_version")
        .collect()
        .join(candidates, on="record_id")
    )
    evidence = (
        findings.filter(pl.col("record_id").is_in(candidates["record_id"].implode()))
        .group_by("record_id")
        .agg(
            pl.col("detector"),
            (pl.lit("- **") + pl.col("detector") + pl.lit("**: ") + pl.col("evidence"))
            .str.join("\n")
            .alias("evidence"),  # unnamed, the column would be "literal" and never shown
        )
    )
    return records.join(evidence, on="record_id", how="left")


def _record(row: dict[str, Any], task: Task) -> dict[str, Any]:
    """What a person sees of one candidate: id, fields, metadata, suggestions (plain data)."""
    fields = {
        "conversation": conversation_markdown(row["messages"]),
        "output": _fence(row["output"]),
        "findings": row.get("evidence") or "_(a control: no detector found anything)_",
    }
    if task.kind == "pair_match" and task.pair:
        fields["pair"] = pair_markdown(row["metadata"], task) or "_(no pair logged)_"
    metadata = {
        "detectors": row.get("detector") or ["none"],
        "failure_type": row["failure_type"],
        "edge_case": row["edge_case"],
        "stratum": row["stratum"],
        "class": row["class"],
        "model": row["model"] or "unknown",
        "prompt_version": row["prompt_version"] or "unknown",
    }
    suggestions = {}
    if row["output"] is not None:
        suggestions[CORRECTED] = row["output"]
    if task.has_labels and row["class"] in task.labels:
        suggestions[LABEL] = row["class"]
    return {
        "id": row["record_id"],
        "fields": fields,
        "metadata": metadata,
        "suggestions": suggestions,
    }


def to_argilla_record(record: dict[str, Any]):
    """An Argilla SDK record of a `_record` dict."""
    import argilla as rg

    suggestions = [rg.Suggestion(q, v) for q, v in record["suggestions"].items()]
    return rg.Record(
        id=record["id"],
        fields=record["fields"],
        metadata=record["metadata"],
        suggestions=suggestions,
    )


def _answered_ids(queue: ArgillaQueue, dataset) -> set[str]:
    """external ids of the records with at least one submitted or discarded response."""
    return {
        item["external_id"]
        for item in queue.records(dataset)
        if any(r["status"] in ("submitted", "discarded") for r in item.get("responses") or [])
    }


# -- pull --------------------------------------------------------------------------------------


@dataclass
class PullResult:
    new_responses: int = 0
    responses: int = 0
    records_answered: int = 0
    agreement: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolved: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    policy: str = "majority"

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def pull_queue(
    project: Project,
    task: str | None = None,
    dataset: str | None = None,
    policy: str = "majority",
    prefer_user: str | None = None,
) -> PullResult:
    """Store the responses, measure agreement, resolve; tables `annotations` and `resolved`."""
    if policy not in POLICIES:
        raise ConfigError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    if policy == "prefer-user" and not prefer_user:
        raise ConfigError("--policy prefer-user needs the user: --prefer-user NAME")
    workspace, config = project.workspace, project.config
    workspace.require()
    candidates = workspace.read_table("candidates", needed_by="curate queue pull")
    names = _task_names(candidates, task, dataset)
    queue = connect(config)
    users = queue.users()
    pulled_at = now_utc().isoformat()
    rows = []
    for name in names:
        target = dataset_name(name, dataset)
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
    with workspace.stage("queue pull", {"policy": policy}) as run:
        result = _store_answers(run, fresh, policy, prefer_user)
        run.counts = {"new": result.new_responses}
    return result


def _store_answers(
    run: StageRun, fresh: pl.DataFrame, policy: str, prefer_user: str | None
) -> PullResult:
    """Add the pulled answers to the history; agreement and resolution over the latest."""
    history = run.workspace.read_table("annotations", empty=True)
    key = ["record_id", "user_id", "question", "value", "status", "answered_at"]
    new = fresh.join(history, on=key, how="anti", nulls_equal=True)
    everything = pl.concat([history, new])
    run.write("annotations", everything)
    result = PullResult(
        new_responses=new.select([*key[:2], "answered_at"]).unique().height, policy=policy
    )
    latest = _latest(everything)
    result.responses = latest.select("record_id", "user_id").unique().height
    result.records_answered = latest["record_id"].n_unique()
    result.agreement = agreement(latest)
    resolved, conflicts = resolve(latest, policy, prefer_user)
    result.resolved, result.conflicts = resolved.height, conflicts
    run.write("resolved", resolved)
    return result


def _latest(annotations: pl.DataFrame) -> pl.DataFrame:
    """Each user's latest answer per record and question (history stays in the table)."""
    return (
        annotations.sort("answered_at", "pulled_at")
        .group_by("record_id", "user_id", "question", maintain_order=True)
        .last()
    )


def agreement(latest: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Per question, agreement between the people who answered it, by user (not by the order
    they answered in).

    - `pairs`: for every pair of annotators, over the records both answered: how many, the share
      they agree on, and Cohen's kappa.
    - `krippendorff_alpha` (nominal) over every record answered by 2+ people, a missing answer
      being a missing value, as Krippendorff defines it; `fleiss_kappa` over the records answered
      by the most common number of people (Fleiss' kappa needs the same number per record).
    - `kappa` / `kappa_kind`: the headline: Cohen's with two annotators in all, else alpha.
    """
    out = {}
    submitted = latest.filter(pl.col("status") == "submitted")
    for question in sorted(set(submitted["question"])):
        answers = submitted.filter(pl.col("question") == question).select(
            "record_id", pl.coalesce("username", "user_id").alias("who"), "value"
        )
        wide = answers.pivot(on="who", index="record_id", values="value", aggregate_function="last")
        people = sorted(c for c in wide.columns if c != "record_id")
        counts = wide.select(pl.sum_horizontal(pl.col(people).is_not_null()).alias("n"))["n"]
        shared = wide.filter(counts >= 2)
        summary: dict[str, Any] = {
            "records": shared.height,
            "annotators": len(people),
            "percent_agreement": None,
            "pairs": [],
            "krippendorff_alpha": None,
            "fleiss_kappa": None,
            "kappa": None,
            "kappa_kind": None,
        }
        if shared.height:
            values = shared.select(people).rows()
            agreeing = sum(1 for row in values if len({v for v in row if v is not None}) == 1)
            summary["percent_agreement"] = round(agreeing / shared.height, 4)
            summary["pairs"] = _pairwise(shared, people)
            summary["krippendorff_alpha"] = _alpha(values)
            summary["fleiss_kappa"] = _fleiss(values)
            if len(people) == 2:
                summary["kappa"], summary["kappa_kind"] = summary["pairs"][0]["kappa"], "cohen"
            else:
                summary["kappa"] = summary["krippendorff_alpha"]
                summary["kappa_kind"] = "krippendorff_alpha"
        out[question] = summary
    return out


def _rounded(value: float) -> float | None:
    return None if value != value else round(float(value), 4)  # NaN: undefined (one category)


def cohen_kappa(left: list[str], right: list[str]) -> float | None:
    """Cohen's kappa of two annotators' answers to the same records."""
    import numpy as np
    from statsmodels.stats.inter_rater import cohens_kappa

    categories = sorted(set(left) | set(right))
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for a, b in zip(left, right, strict=True):
        table[index[a], index[b]] += 1
    if len(categories) < 2:
        return None  # every answer the same category: agreement by chance is total
    return _rounded(cohens_kappa(table).kappa)


def _pairwise(shared: pl.DataFrame, people: list[str]) -> list[dict[str, Any]]:
    pairs = []
    for i, a in enumerate(people):
        for b in people[i + 1 :]:
            both = shared.select(a, b).drop_nulls()
            if both.height == 0:
                continue
            left, right = both[a].to_list(), both[b].to_list()
            pairs.append(
                {
                    "annotators": [a, b],
                    "records": both.height,
                    "percent_agreement": round(
                        sum(x == y for x, y in zip(left, right, strict=True)) / both.height, 4
                    ),
                    "kappa": cohen_kappa(left, right),
                }
            )
    return pairs


def _alpha(rows: list[tuple[str | None, ...]]) -> float | None:
    """Krippendorff's alpha (nominal) of records x annotators, None for a missing answer."""
    import krippendorff
    import numpy as np

    categories = sorted({v for row in rows for v in row if v is not None})
    if len(categories) < 2:
        return None
    index = {c: float(i) for i, c in enumerate(categories)}
    data = np.array([[np.nan if v is None else index[v] for v in row] for row in rows]).T
    return _rounded(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _fleiss(rows: list[tuple[str | None, ...]]) -> dict[str, Any] | None:
    """Fleiss' kappa over the records answered by the most common number of people."""
    from statsmodels.stats.inter_rater import fleiss_kappa

    sizes = Counter(sum(v is not None for v in row) for row in rows)
    raters = sizes.most_common(1)[0][0]
    used = [[v for v in row if v is not None] for row in rows]
    used = [row for row in used if len(row) == raters]
    categories = sorted({v for row in used for v in row})
    if len(categories) < 2:
        return None
    table = [[row.count(c) for c in categories] for row in used]
    return {"kappa": _rounded(fleiss_kappa(table)), "records": len(used), "raters": raters}


def resolve(
    latest: pl.DataFrame, policy: str, prefer_user: str | None
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """One answer per record and question by the policy; the records it could not decide."""
    resolved, conflicts = [], []
    submitted = latest.filter(pl.col("status") == "submitted")
    discarded = set(latest.filter(pl.col("status") == "discarded")["record_id"])
    groups: dict[tuple[str, str], list[tuple[str | None, str]]] = defaultdict(list)
    for record_id, question, value, username in submitted.select(
        "record_id", "question", "value", "username"
    ).iter_rows():
        groups[(record_id, question)].append((username, value))
    for (record_id, question), answers in sorted(groups.items()):
        counts = Counter(value for _, value in answers)
        top, n = counts.most_common(1)[0]
        decided: str | None = None
        if policy == "unanimous":
            decided = top if len(counts) == 1 else None
        elif policy == "majority":
            decided = top if n > len(answers) / 2 else None
        else:
            preferred = [value for user, value in answers if user == prefer_user]
            decided = preferred[0] if preferred else (top if n > len(answers) / 2 else None)
        if decided is None:
            conflicts.append(
                {
                    "record_id": record_id,
                    "question": question,
                    "answers": {user or "?": json.loads(value) for user, value in answers},
                }
            )
            continue
        resolved.append(
            {
                "record_id": record_id,
                "question": question,
                "value": decided,
                "annotators": sorted(user or "?" for user, _ in answers),
                "policy": policy,
            }
        )
    frame = pl.DataFrame(
        resolved,
        schema={
            "record_id": pl.String,
            "question": pl.String,
            "value": pl.String,
            "annotators": pl.List(pl.String),
            "policy": pl.String,
        },
    )
    frame = frame.with_columns(
        pl.col("record_id").is_in(list(discarded)).alias("discarded_by_someone")
    )
    return frame, conflicts


# -- status ------------------------------------------------------------------------------------


def queue_status(
    project: Project, dataset: str | None = None, task: str | None = None
) -> dict[str, Any]:
    """Pending / completed / discarded records, per stratum and per annotator."""
    workspace, config = project.workspace, project.config
    workspace.require()
    candidates = workspace.read_table("candidates", needed_by="curate queue status")
    names = _task_names(candidates, task, dataset)
    queue = connect(config)
    users = queue.users()
    out: dict[str, Any] = {}
    for name in names:
        target = dataset_name(name, dataset)
        remote = queue.dataset(target)
        if remote is None:
            out[name] = {"dataset": target, "pushed": False}
            continue
        rows, per_user = [], Counter()
        for item in queue.records(remote):
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
    return out
