"""push / pull / status against the real local Argilla stack, answers given through its REST API."""

from __future__ import annotations

import json
import uuid

import httpx
import polars as pl
import pytest

from curate.cli import main
from curate.core.config import Config
from curate.core.errors import QueueError
from curate.core.project import Project
from curate.queue.stage import pull_queue, push_queue, queue_status
from tests.integration.conftest import account


def _annotator(url: str, name: str) -> str:
    """A new annotator in the default workspace; returns its API key."""
    admin = {"X-Argilla-Api-Key": account()["api_key"]}
    user = httpx.post(
        f"{url}/api/v1/users",
        headers=admin,
        json={"username": name, "password": "12345678", "role": "annotator", "first_name": name},
    ).json()
    workspaces = httpx.get(f"{url}/api/v1/me/workspaces", headers=admin).json()["items"]
    added = httpx.post(
        f"{url}/api/v1/workspaces/{workspaces[0]['id']}/users",
        headers=admin,
        json={"user_id": user["id"]},
    )
    assert added.status_code == 201, added.text
    return user["api_key"]


def _remote(url: str, dataset: str) -> list[dict]:
    admin = {"X-Argilla-Api-Key": account()["api_key"]}
    found = httpx.get(f"{url}/api/v1/me/datasets", headers=admin).json()["items"]
    dataset_id = next(d["id"] for d in found if d["name"] == dataset)
    return httpx.get(
        f"{url}/api/v1/datasets/{dataset_id}/records",
        headers=admin,
        params={"include": "responses", "limit": 1000},
    ).json()["items"]


def _answer(url: str, key: str, record: dict, label: str, status: str = "submitted") -> None:
    response = httpx.post(
        f"{url}/api/v1/records/{record['id']}/responses",
        headers={"X-Argilla-Api-Key": key},
        json={
            "values": {"label": {"value": label}, "is_failure": {"value": "yes"}},
            "status": status,
        },
    )
    assert response.status_code in (200, 201), response.text


def test_push_repush_answers_pull_agreement_and_status(labelled_workspace, argilla_url):
    workspace, config = labelled_workspace
    dataset = f"test-{uuid.uuid4().hex[:8]}"
    first = push_queue(Project(workspace, config), task="entity_match", dataset=dataset)[0]
    assert (first.pushed, first.created) == (30, True)
    again = push_queue(Project(workspace, config), task="entity_match", dataset=dataset)[0]
    assert again.pushed == 30 and not again.created
    remote = _remote(argilla_url, dataset)
    assert len(remote) == 30, "a re-push updates, never duplicates"
    ids = {r["external_id"] for r in remote}
    candidates = pl.read_parquet(workspace.root / "candidates.parquet")
    assert ids == set(candidates["record_id"])
    record = remote[0]
    assert record["fields"]["pair"].startswith("| field | record A | record B |")
    failing = set(candidates.filter(~pl.col("is_control"))["record_id"])
    shown = {r["external_id"]: r["fields"]["findings"] for r in remote}
    assert failing and all(shown[i].startswith("- **") for i in failing), "evidence is shown"

    ann1, ann2 = (_annotator(argilla_url, f"ann{uuid.uuid4().hex[:6]}") for _ in range(2))
    for r in remote[:4]:
        _answer(argilla_url, ann1, r, "match")
    for r in remote[:2]:
        _answer(argilla_url, ann2, r, "match")  # agree on 2
    for r in remote[2:4]:
        _answer(argilla_url, ann2, r, "non_match")  # disagree on 2
    _answer(argilla_url, ann2, remote[5], "match", status="discarded")

    # what a re-push would send differs now (every candidate's stratum), so a record that is
    # logged again shows it: answered records must keep what their annotators saw
    candidates.with_columns(pl.lit("changed").alias("stratum")).write_parquet(
        workspace.root / "candidates.parquet"
    )
    before = {r["external_id"]: r["metadata"]["stratum"] for r in _remote(argilla_url, dataset)}
    third = push_queue(Project(workspace, config), task="entity_match", dataset=dataset)[0]
    assert third.kept_answered == 5 and third.pushed == 25
    after = {r["external_id"]: r["metadata"]["stratum"] for r in _remote(argilla_url, dataset)}
    answered = {r["external_id"] for r in remote[:6]} - {remote[4]["external_id"]}
    assert all(after[i] == before[i] != "changed" for i in answered), "answered: not relogged"
    assert all(after[i] == "changed" for i in set(after) - answered), "the others: updated"

    result = pull_queue(Project(workspace, config), task="entity_match", dataset=dataset)
    assert result.records_answered == 5
    label = result.agreement["label"]
    assert (
        label["records"] == 4
        and label["percent_agreement"] == 0.5
        and label["kappa_kind"] == "cohen"
    )
    assert {c["record_id"] for c in result.conflicts if c["question"] == "label"} == {
        r["external_id"] for r in remote[2:4]
    }
    annotations = pl.read_parquet(workspace.root / "annotations.parquet")
    assert set(annotations["status"]) == {"submitted", "discarded"}
    assert (
        pull_queue(Project(workspace, config), task="entity_match", dataset=dataset).new_responses
        == 0
    )

    resolved = pl.read_parquet(workspace.root / "resolved.parquet")
    assert resolved.filter(pl.col("question") == "label").height == 2  # the two agreed ones
    status = queue_status(Project(workspace, config), dataset=dataset)["entity_match"]
    assert status["totals"] == {"completed": 4, "discarded": 1, "pending": 25}
    assert sum(status["totals"].values()) == 30


def test_prefer_user_policy(labelled_workspace, argilla_url):
    workspace, config = labelled_workspace
    dataset = f"test-{uuid.uuid4().hex[:8]}"
    push_queue(Project(workspace, config), task="entity_match", dataset=dataset)
    remote = _remote(argilla_url, dataset)
    name1, name2 = f"lead{uuid.uuid4().hex[:6]}", f"ann{uuid.uuid4().hex[:6]}"
    lead, other = _annotator(argilla_url, name1), _annotator(argilla_url, name2)
    _answer(argilla_url, lead, remote[0], "non_match")
    _answer(argilla_url, other, remote[0], "match")
    result = pull_queue(
        Project(workspace, config),
        task="entity_match",
        dataset=dataset,
        policy="prefer-user",
        prefer_user=name1,
    )
    resolved = pl.read_parquet(workspace.root / "resolved.parquet").filter(
        pl.col("question") == "label"
    )
    assert resolved["value"].to_list() == ['"non_match"'] and not result.conflicts


def test_error_paths(labelled_workspace, argilla_url, monkeypatch):
    workspace, config = labelled_workspace
    monkeypatch.setenv("ARGILLA_API_URL", "http://127.0.0.1:9")
    with pytest.raises(
        QueueError, match=r"cannot reach Argilla at http://127\.0\.0\.1:9.*curate argilla up"
    ):
        push_queue(Project(workspace, config))
    monkeypatch.setenv("ARGILLA_API_URL", argilla_url)
    monkeypatch.setenv("ARGILLA_API_KEY", "wrong.key")
    with pytest.raises(QueueError, match="refused the API key"):
        push_queue(Project(workspace, config))
    monkeypatch.delenv("ARGILLA_API_KEY")
    dataset = f"test-{uuid.uuid4().hex[:8]}"
    push_queue(Project(workspace, config), task="entity_match", dataset=dataset)
    other = Config(
        path=config.path,
        data={
            **config.data,
            "tasks": {
                **config.tasks,
                "entity_match": {
                    **config.tasks["entity_match"],
                    "labels": ["same", "different"],
                    "synonyms": {},
                },
            },
        },
    )
    with pytest.raises(QueueError, match=r"labels .*match.*non_match.*but the task.s are"):
        push_queue(Project(workspace, other), task="entity_match", dataset=dataset)


def test_cli_push_and_status_json(labelled_workspace, argilla_url, runner):
    workspace, config = labelled_workspace
    dataset = f"test-{uuid.uuid4().hex[:8]}"
    ws = ["--workspace", str(workspace.root), "--config", str(config.path)]
    pushed = runner.invoke(main, [*ws, "queue", "push", "--dataset", dataset, "--json"])
    assert pushed.exit_code == 0, pushed.output
    assert json.loads(pushed.stdout)["datasets"][0]["pushed"] == 30
    status = runner.invoke(main, [*ws, "queue", "status", "--dataset", dataset, "--json"])
    assert json.loads(status.stdout)["entity_match"]["totals"] == {"pending": 30}
    down = runner.invoke(main, [*ws, "queue", "pull", "--policy", "prefer-user"])
    assert down.exit_code == 2 and "--prefer-user NAME" in down.output


def test_push_prints_only_curates_own_output(labelled_workspace, argilla_url):
    """No SDK warnings or tqdm bars: --json stdout is one JSON object, stderr says nothing."""
    import subprocess
    import sys

    workspace, config = labelled_workspace
    dataset = f"quiet-{uuid.uuid4().hex[:8]}"
    base = [sys.executable, "-m", "curate", "--workspace", str(workspace.root)]
    base += ["--config", str(config.path), "queue", "push", "--dataset", dataset]
    done = subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["datasets"][0]["pushed"] == 30
    assert done.stderr == ""
    human = subprocess.run(base, capture_output=True, text=True, timeout=300)
    assert "Workspace not provided" not in human.stdout + human.stderr
    assert "Sending records" not in human.stdout + human.stderr


def test_dataset_with_several_tasks_is_refused(labelled_workspace, runner):
    workspace, config = labelled_workspace
    candidates = pl.read_parquet(workspace.root / "candidates.parquet")
    other = candidates.head(3).with_columns(pl.lit("second_task").alias("task"))
    pl.concat([candidates, other]).write_parquet(workspace.root / "candidates.parquet")
    ws = ["--workspace", str(workspace.root), "--config", str(config.path)]
    for command in (["push"], ["pull"], ["status"]):
        result = runner.invoke(main, [*ws, "queue", *command, "--dataset", "mine"])
        assert result.exit_code == 2, result.output
        assert "names one Argilla dataset" in result.output and "--task" in result.output


def test_judge_suggestions_reach_argilla_and_survive_a_repush(tmp_path, argilla_url, shared_data):
    """A judge's answers (local OpenAI-compatible server) become Argilla suggestions with their
    score and agent; a re-push keeps them and duplicates nothing."""
    import hashlib

    from curate.queue.judge import suggest
    from tests.conftest import balanced_sample
    from tests.judge_server import JudgeServer

    def answer(prompt: str) -> tuple[str, float]:
        digest = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
        return ("non_match" if digest % 3 == 0 else "match"), -0.05

    with JudgeServer(shared_data, answer) as server:
        toml = f'\n[judge]\nbase_url = "{server.url}"\nmodel = "judge-it"\n'
        workspace, config = balanced_sample(tmp_path, target=20, seed=9, extra_toml=toml)
        project = Project(workspace, config)
        assert suggest(project).answered == workspace.read_table("candidates").height
    dataset = f"it-judge-{uuid.uuid4().hex[:6]}"
    push_queue(project, dataset=dataset, task="entity_match")
    judged = dict(workspace.read_table("suggestions").select("record_id", "label").iter_rows())
    admin = {"X-Argilla-Api-Key": account()["api_key"]}

    def suggestions() -> dict[str, dict]:
        found = httpx.get(f"{argilla_url}/api/v1/me/datasets", headers=admin).json()["items"]
        dataset_id = next(d["id"] for d in found if d["name"] == dataset)
        questions = httpx.get(
            f"{argilla_url}/api/v1/datasets/{dataset_id}/questions", headers=admin
        ).json()["items"]
        label_question = next(q["id"] for q in questions if q["name"] == "label")
        items = httpx.get(
            f"{argilla_url}/api/v1/datasets/{dataset_id}/records",
            headers=admin,
            params={"include": "suggestions", "limit": 1000},
        ).json()["items"]
        return {
            item["external_id"]: next(
                s for s in item["suggestions"] if s["question_id"] == label_question
            )
            for item in items
        }

    first = suggestions()
    assert set(first) == set(judged)
    for record_id, suggestion in first.items():
        assert suggestion["value"] == judged[record_id]
        assert suggestion["agent"] == "judge-it"
        assert suggestion["score"] == pytest.approx(0.9512, abs=1e-3)
    push_queue(project, dataset=dataset, task="entity_match")
    again = suggestions()
    assert set(again) == set(first)
    assert {r: s["value"] for r, s in again.items()} == {r: s["value"] for r, s in first.items()}


def test_task_overlap_and_guidelines_reach_argilla_and_quality_comes_back(tmp_path, argilla_url):
    """[tasks.NAME.queue]: the people per record and the guidelines (a Markdown file) are the
    dataset's settings in Argilla; a pull measures each annotator against the other."""
    from tests.conftest import balanced_sample

    (tmp_path / "guide.md").write_text(
        "## Same person?\n\nA nickname is the same **first name**.\n"
    )
    extra = '\n[tasks.entity_match.queue]\nannotators = 3\nguidelines = "guide.md"\n'
    workspace, config = balanced_sample(tmp_path, target=12, seed=2, extra_toml=extra)
    dataset = f"test-{uuid.uuid4().hex[:8]}"
    push_queue(Project(workspace, config), task="entity_match", dataset=dataset)
    admin = {"X-Argilla-Api-Key": account()["api_key"]}
    found = httpx.get(f"{argilla_url}/api/v1/me/datasets", headers=admin).json()["items"]
    settings = next(d for d in found if d["name"] == dataset)
    assert settings["distribution"] == {"strategy": "overlap", "min_submitted": 3}
    assert "A nickname is the same **first name**." in settings["guidelines"]
    assert settings["guidelines"].startswith("Task **entity_match**")

    remote = _remote(argilla_url, dataset)
    ann1, ann2 = (_annotator(argilla_url, f"q{uuid.uuid4().hex[:6]}") for _ in range(2))
    for i, record in enumerate(remote):
        _answer(argilla_url, ann1, record, "match")
        _answer(argilla_url, ann2, record, "match" if i % 4 else "non_match")
    result = pull_queue(Project(workspace, config), task="entity_match", dataset=dataset)
    quality = result.annotators["entity_match"]
    assert quality["question"] == "label"
    people = quality["annotators"]
    assert len(people) == 2 and all(q["answers"] == len(remote) for q in people.values())
    assert all(q["with_others"] == len(remote) for q in people.values())
    assert {q["agreement"] for q in people.values()} == {round(9 / 12, 4)}
    # the three records they disagree on went to the adjudication dataset; its answer decides
    assert result.adjudication["entity_match"]["sent"] == 3
    adjudication = _remote(argilla_url, f"{dataset}-adjudication")
    disputed = {r["external_id"] for i, r in enumerate(remote) if i % 4 == 0}
    assert {r["external_id"] for r in adjudication} == disputed
    assert all("**Answers so far**" in r["fields"]["findings"] for r in adjudication)
    for record in adjudication:
        _answer(argilla_url, ann1, record, "non_match")
    again = pull_queue(Project(workspace, config), task="entity_match", dataset=dataset)
    assert not [c for c in again.conflicts if c["question"] == "label"]
    resolved = pl.read_parquet(workspace.root / "resolved.parquet")
    labels = dict(
        resolved.filter(pl.col("question") == "label").select("record_id", "value").iter_rows()
    )
    assert all(json.loads(labels[r]) == "non_match" for r in disputed)


def test_an_overlap_share_goes_to_a_dataset_answered_by_two(tmp_path, argilla_url):
    """[tasks.NAME.queue] overlap_share: on the real server, the share is a second dataset whose
    task distribution asks two people per record; the rest asks one."""
    from tests.conftest import balanced_sample

    extra = "\n[tasks.entity_match.queue]\noverlap_share = 0.3\n"
    workspace, config = balanced_sample(tmp_path, target=20, seed=2, extra_toml=extra)
    dataset = f"test-{uuid.uuid4().hex[:8]}"
    (pushed,) = push_queue(Project(workspace, config), task="entity_match", dataset=dataset)
    admin = {"X-Argilla-Api-Key": account()["api_key"]}
    found = httpx.get(f"{argilla_url}/api/v1/me/datasets", headers=admin).json()["items"]
    settings = {d["name"]: d for d in found}
    assert settings[dataset]["distribution"] == {"strategy": "overlap", "min_submitted": 1}
    twice = settings[f"{dataset}-overlap"]
    assert twice["distribution"] == {"strategy": "overlap", "min_submitted": 2}
    assert 0 < pushed.overlap < pushed.pushed
    assert len(_remote(argilla_url, f"{dataset}-overlap")) == pushed.overlap
    assert len(_remote(argilla_url, dataset)) == pushed.pushed - pushed.overlap
