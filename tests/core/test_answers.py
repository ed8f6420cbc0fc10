"""Known answers need no labelling: references trusted, audited, or ignored (issue 14)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from curate.core.answers import audited
from curate.core.project import Project
from curate.export.stage import ExportSettings, export_dataset
from curate.queue.memory import MemoryQueue
from curate.queue.stage import pull_queue, push_queue
from tests.conftest import balanced_sample


def _project(tmp_path, monkeypatch, answers: str):
    toml = f"\n[tasks.entity_match.answers]\n{answers}\n" if answers else ""
    workspace, config = balanced_sample(tmp_path, target=120, seed=3, extra_toml=toml)
    queue = MemoryQueue()
    project = Project(workspace, config, queue_backend=queue)
    candidates = workspace.read_table("candidates")
    refs = (
        workspace.scan_records()
        .select("record_id", "reference")
        .collect()
        .join(candidates.select("record_id"), on="record_id")
    )
    with_ref = set(refs.filter(pl.col("reference").is_not_null())["record_id"])
    return project, queue, candidates, with_ref


def _pushed(queue) -> set[str]:
    return {r for d in queue.datasets.values() for r in d.records}


def test_trusted_references_are_answers(tmp_path, monkeypatch):
    project, queue, candidates, with_ref = _project(tmp_path, monkeypatch, 'references = "trust"')
    assert 0 < len(with_ref) < candidates.height
    (result,) = push_queue(project)
    assert result.answered_by_reference == len(with_ref)
    assert _pushed(queue) == set(candidates["record_id"]) - with_ref
    exported = export_dataset(project, ExportSettings(name="refs", allow_small=True, seed=1))
    manifest = json.loads(
        (project.workspace.root / "exports" / "refs" / "manifest.json").read_text()
    )
    examples = manifest["examples"]
    assert sum(exported.written.values()) == len(examples) > 0
    assert {e["source"] for e in examples} == {"reference"}
    assert {e["record_id"] for e in examples} <= with_ref
    # each example carries the reference's label, spelled as the task's label
    truth = dict(
        project.workspace.scan_records().select("record_id", "reference").collect().iter_rows()
    )
    lines = [
        json.loads(line)
        for split in ("train", "validation")
        for line in (project.workspace.root / "exports" / "refs" / f"{split}.jsonl")
        .read_text()
        .splitlines()
    ]
    said = [json.loads(line["messages"][-1]["content"])["decision"] for line in lines]
    expected = [truth[e["record_id"]].replace("-", "_") for e in examples]
    assert sorted(said) == sorted(expected)


def test_audited_references_send_a_share_to_people(tmp_path, monkeypatch):
    share = 'references = "audit"\naudit_share = 0.3\naudit_seed = 5'
    project, queue, candidates, with_ref = _project(tmp_path, monkeypatch, share)
    task = project.tasks["entity_match"]
    sample = {r for r in with_ref if audited(r, task)}
    assert 0.15 * len(with_ref) < len(sample) < 0.45 * len(with_ref)
    (result,) = push_queue(project)
    assert _pushed(queue) == (set(candidates["record_id"]) - with_ref) | sample
    assert result.answered_by_reference == len(with_ref) - len(sample)
    truth = dict(
        project.workspace.scan_records().select("record_id", "reference").collect().iter_rows()
    )
    flipped = sorted(sample)[:3]  # people disagree with three references

    def answer(dataset, record):
        rid = record["external_id"]
        ref = (truth.get(rid) or "match").replace("-", "_")
        label = ("non_match" if ref == "match" else "match") if rid in flipped else ref
        return {"label": label, "is_failure": "yes"}

    queue.answer_all(answer)
    audit = pull_queue(project).reference_audit["entity_match"]
    assert audit["records"] == len(sample)
    assert audit["agreement"] == pytest.approx(1 - 3 / len(sample), abs=1e-4)
    # Cohen's kappa by hand: (p_o - p_e) / (1 - p_e)
    pairs = [
        (truth[r].replace("-", "_"), "x" if r in flipped else truth[r].replace("-", "_"))
        for r in sample
    ]
    refs = [a for a, _ in pairs]
    people = [
        ("non_match" if a == "match" else "match") if r in flipped else a
        for r, (a, _) in zip(sample, pairs, strict=True)
    ]
    n = len(refs)
    p_o = sum(a == b for a, b in zip(refs, people, strict=True)) / n
    p_e = sum((refs.count(c) / n) * (people.count(c) / n) for c in {"match", "non_match"})
    assert audit["kappa"] == pytest.approx((p_o - p_e) / (1 - p_e), abs=1e-4)
    low, high = audit["kappa_ci"]
    assert low < audit["kappa"] < high


def test_ignored_references_change_nothing(tmp_path, monkeypatch):
    project, queue, candidates, _ = _project(tmp_path, monkeypatch, "")
    (result,) = push_queue(project)
    assert result.answered_by_reference == 0
    assert _pushed(queue) == set(candidates["record_id"])
