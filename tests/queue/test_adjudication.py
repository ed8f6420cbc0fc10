"""Conflicts go to an adjudication dataset, with every answer and its annotator; the
adjudicator's answer wins at the next pull; status counts what waits; export says why it left
them out. On the in-memory queue, two scripted annotators."""

from __future__ import annotations

import json

import polars as pl

from curate.core.project import Project
from curate.export.stage import ExportSettings, export_dataset
from curate.queue.stage import pull_queue, push_queue, queue_status
from tests.conftest import balanced_sample

ADJUDICATION = "curate-entity_match-adjudication"


def _answer(record, user: str, label: str, at: str = "12:00") -> None:
    record["responses"].append(
        {
            "user_id": user,
            "status": "submitted",
            "values": {"label": {"value": label}, "is_failure": {"value": "yes"}},
            "updated_at": f"2026-11-28T{at}:0{len(record['responses'])}",
        }
    )


def test_conflicts_are_adjudicated_and_the_adjudicator_decides(tmp_path):
    from curate.queue import memory

    workspace, config = balanced_sample(tmp_path, 20, 3, '\n[queue]\nbackend = "memory"\n')
    project = Project(workspace, config)
    push_queue(project, task="entity_match")
    queue = memory.connect(config)
    records = list(queue.datasets["curate-entity_match"].records.values())
    split = {r["external_id"] for r in records[:5]}
    for record in records:
        _answer(record, "u1", "match")
        _answer(record, "u2", "non_match" if record["external_id"] in split else "match")

    pulled = pull_queue(project, task="entity_match")
    assert {c["record_id"] for c in pulled.conflicts if c["question"] == "label"} == split
    assert pulled.adjudication == {
        "entity_match": {"dataset": ADJUDICATION, "sent": 5, "answered": 0}
    }
    sent = queue.datasets[ADJUDICATION].records
    assert set(sent) == split
    shown = next(iter(sent.values()))["fields"]["findings"]
    assert shown.startswith("**Answers so far** (they conflict)")
    assert "- label: ann: `match`; lead: `non_match`" in shown
    assert queue_status(project, task="entity_match")["entity_match"]["adjudication"] == {
        "dataset": ADJUDICATION,
        "waiting": 5,
    }
    from curate.report.stage import build_report

    assert build_report(project)["labels"]["entity_match"]["in_conflict"] == 5
    result = export_dataset(project, ExportSettings(name="e", allow_small=True, overwrite=True))
    waiting = [e for e in result.excluded_records if "waiting for adjudication" in e["reason"]]
    assert {e["record_id"] for e in waiting} == split

    for record in sent.values():  # the lead decides, in the adjudication dataset
        _answer(record, "u2", "match", at="15:00")
    again = pull_queue(project, task="entity_match")
    assert not again.conflicts and again.adjudication == {}
    resolved = workspace.read_table("resolved").filter(pl.col("question") == "label")
    decided = dict(resolved.select("record_id", "value").iter_rows())
    assert all(json.loads(decided[r]) == "match" for r in split)
    status = queue_status(project, task="entity_match")["entity_match"]
    assert status["adjudication"]["waiting"] == 0
    result = export_dataset(project, ExportSettings(name="e", allow_small=True, overwrite=True))
    assert not [e for e in result.excluded_records if "adjudication" in e["reason"]]
