"""Argilla: the connection, the dataset settings, and what a person sees of a record."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import warnings
from collections.abc import Iterator
from typing import Any

from curate.core.config import Config
from curate.core.errors import QueueError
from curate.core.tables import CORRECTED, IS_FAILURE, LABEL
from curate.core.tasks import Task
from curate.core.text import conversation_markdown

PUSH_BATCH = 500


def connection(config: Config) -> tuple[str, str]:
    """(api_url, api_key): ARGILLA_API_URL / ARGILLA_API_KEY, else [argilla], else the local
    stack's (generated at its first `curate argilla up`); the key is "" when there is none."""
    from curate.stack.local import HOST, PORTS, running_credentials

    section = config.section("argilla")
    url = (
        os.environ.get("ARGILLA_API_URL")
        or section.get("api_url")
        or f"http://{HOST}:{PORTS['argilla']}"
    )
    key = os.environ.get("ARGILLA_API_KEY") or section.get("api_key")
    if not key:
        key = (running_credentials() or {}).get("api_key", "")
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
    if not key:
        raise QueueError(
            f"no API key for Argilla at {url}: start the local stack with `curate argilla up` "
            "(it makes this workspace's key), or set ARGILLA_API_KEY (or [argilla] api_key)"
        )
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


# -- what a person sees ----------------------------------------------------------------------------


def _fence(text: str | None) -> str:
    if text is None:
        return "_(no output)_"
    return "```\n" + text.replace("```", "ˋˋˋ") + "\n```"


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


def render_record(row: dict[str, Any], task: Task) -> dict[str, Any]:
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
    # what the answer boxes start with: the judge's answer (`curate suggest`), scored and
    # signed with its model; else the model's own output, and the reference or label read
    judge = {"score": row.get("judge_score"), "agent": _agent(row.get("judge_model"))}
    suggestions: dict[str, dict[str, Any]] = {}
    if row.get("judge_output") is not None:
        suggestions[CORRECTED] = {"value": row["judge_output"], **judge}
    elif row["output"] is not None:
        suggestions[CORRECTED] = {"value": row["output"], "agent": "curate: the model output"}
    if task.has_labels and row.get("judge_label") in task.labels:
        suggestions[LABEL] = {"value": row["judge_label"], **judge}
    elif task.has_labels and row["class"] in task.labels:
        suggestions[LABEL] = {"value": row["class"], "agent": "curate: reference or label read"}
    return {
        "id": row["record_id"],
        "fields": fields,
        "metadata": metadata,
        "suggestions": suggestions,
    }


def _agent(name: str | None) -> str | None:
    """A suggestion's agent as Argilla takes it (letters, digits, - _ : . / and spaces)."""
    if name is None:
        return None
    return re.sub(r"[^a-zA-Z0-9\-_:./\s]", "-", name).strip() or "judge"


def guidelines_of(task: Task) -> str:
    """What annotators read in the UI: the task's own guidelines ([tasks.NAME.queue]), after
    what curate asks of every record."""
    asked = (
        f"Task **{task.name}** ({task.kind}). Read the input and the model's output, give the "
        "right answer, and correct the output so that it is what the model should have said."
    )
    own = str(task.queue.get("guidelines") or "").strip()
    return f"{asked}\n\n{own}" if own else asked


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
        guidelines=guidelines_of(task),
    )


def to_argilla_record(record: dict[str, Any]):
    """An Argilla SDK record of a `_record` dict."""
    import argilla as rg

    suggestions = [
        rg.Suggestion(q, s["value"], score=s.get("score"), agent=s.get("agent"))
        for q, s in record["suggestions"].items()
    ]
    return rg.Record(
        id=record["id"],
        fields=record["fields"],
        metadata=record["metadata"],
        suggestions=suggestions,
    )
