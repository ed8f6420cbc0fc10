"""Likely label errors: planted wrong labels on records that references answer rank first in
`curate review`; --push sends them for a second look; export --max-suspicion leaves them out.
On the sample (references audited), one annotator, the in-memory queue."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest

from curate.cli import main
from curate.core.annotations import resolve
from curate.core.answers import reference_label, referenced_records
from curate.core.project import Project
from curate.core.suspicion import suspicions
from curate.core.tables import ANNOTATIONS_SCHEMA
from curate.export.stage import ExportSettings, export_dataset
from tests.conftest import balanced_sample

PLANTED = 8
EXTRA = '\n[tasks.entity_match.answers]\nreferences = "audit"\n[queue]\nbackend = "memory"\n'


def _annotate(workspace, labels: dict[str, str]) -> None:
    """One annotator ("ann") gave these labels (and "yes, a failure"); resolved by majority."""
    rows = []
    for record_id, label in labels.items():
        for question, value in (("label", label), ("is_failure", "yes")):
            rows.append(
                {
                    "record_id": record_id,
                    "dataset": "curate-entity_match",
                    "task": "entity_match",
                    "user_id": "u1",
                    "username": "ann",
                    "status": "submitted",
                    "question": question,
                    "value": json.dumps(value),
                    "answered_at": "2026-11-28T10:00:00",
                    "pulled_at": "2026-11-28T11:00:00",
                }
            )
    annotations = pl.DataFrame(rows, schema=ANNOTATIONS_SCHEMA)
    annotations.write_parquet(workspace.root / "annotations.parquet")
    resolve(annotations, "majority", None)[0].write_parquet(workspace.root / "resolved.parquet")


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """The sample's candidates labelled by one careful annotator who follows the references,
    but for PLANTED records with a reference, labelled the other way."""
    workspace, config = balanced_sample(tmp_path_factory.mktemp("review"), 80, 5, EXTRA)
    project = Project(workspace, config)
    task = project.tasks["entity_match"]
    candidates = workspace.read_table("candidates").sort("rank")
    known = referenced_records(workspace).select("record_id", reference_label(task).alias("ref"))
    refs = dict(known.drop_nulls().iter_rows())
    with_ref = [r for r in candidates["record_id"] if r in refs]
    assert len(with_ref) >= 3 * PLANTED
    planted = set(random.Random(3).sample(with_ref, PLANTED))
    labels = {}
    for record_id, klass in candidates.select("record_id", "class").iter_rows():
        label = refs.get(record_id, klass or "match")
        if record_id in planted:
            label = "match" if label == "non_match" else "non_match"
        labels[record_id] = label
    _annotate(workspace, labels)
    return workspace, config, planted


def test_planted_label_errors_rank_first(labelled):
    workspace, config, planted = labelled
    ranked = suspicions(workspace, Project(workspace, config).tasks)
    top = set(ranked.head(PLANTED)["record_id"])
    precision = len(top & planted) / PLANTED
    recall = len(set(ranked.filter(pl.col("suspicion") >= 0.3)["record_id"]) & planted) / PLANTED
    # measured: precision at k = 8 of 1.0, recall at suspicion 0.3 of 1.0 (the reference alone
    # gives 0.8; nothing else on this sample reaches 0.3)
    assert precision == 1.0 and recall == 1.0
    first = ranked.row(0, named=True)
    assert any(r.startswith("the reference says") for r in first["reasons"])
    clean = ranked.filter(~pl.col("record_id").is_in(list(planted)))
    assert clean["suspicion"].max() < 0.8


def test_a_label_its_near_duplicates_contradict_ranks_first(tmp_path):
    """Planted wrong labels where no reference says anything, only the record's near-duplicates
    (three clusters of three candidates: two labelled match, one planted non_match)."""
    workspace, config = balanced_sample(tmp_path, 80, 5, EXTRA)
    task = Project(workspace, config).tasks["entity_match"]
    known = referenced_records(workspace).select("record_id", reference_label(task).alias("ref"))
    refs = dict(known.drop_nulls().iter_rows())
    candidates = workspace.read_table("candidates").sort("rank")
    free = [r for r in candidates["record_id"] if r not in refs][:9]
    assert len(free) == 9
    groups = {r: f"dup{i // 3}" for i, r in enumerate(free)}
    clusters = workspace.read_table("clusters").with_columns(
        pl.col("record_id").replace_strict(groups, default=pl.col("cluster_id")).alias("cluster_id")
    )
    workspace.write_table("clusters", clusters)
    planted = {free[i] for i in (2, 5, 8)}
    labels = {
        r: refs.get(r, k or "match") for r, k in candidates.select("record_id", "class").iter_rows()
    }
    labels |= {r: "non_match" if r in planted else "match" for r in free}
    _annotate(workspace, labels)
    ranked = suspicions(workspace, Project(workspace, config).tasks)
    top = ranked.head(len(planted))
    # measured: precision at k = 3 of 1.0 (each planted label: 2 of 2 neighbours against it,
    # 2/3 = 0.667); the other members of those clusters (1 of 2 against) are not suspected
    assert set(top["record_id"]) == planted
    assert top["suspicion"].to_list() == [pytest.approx(2 / 3, abs=1e-3)] * 3
    assert all("near-duplicates were labelled otherwise" in r[0] for r in top["reasons"])
    assert (
        ranked.filter(pl.col("record_id").is_in(free) & ~pl.col("record_id").is_in(list(planted)))[
            "suspicion"
        ].max()
        < 0.3
    )


def test_review_lists_and_pushes_them_and_export_leaves_them_out(labelled, runner):
    from curate.core.config import load_config
    from curate.queue import memory

    workspace, config, planted = labelled
    args = ["--workspace", str(workspace.root), "--config", str(config.path)]
    result = runner.invoke(main, [*args, "review", "--push", "--json", "--limit", "5"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["suspected"] == PLANTED and len(data["records"]) == 5
    assert {p["dataset"] for p in data["pushed"]} == {"curate-entity_match-review"}
    queue = memory.connect(load_config(config.path))
    sent = queue.datasets["curate-entity_match-review"].records
    assert set(sent) == planted  # exactly the suspected, for a second look
    text = runner.invoke(main, [*args, "review"]).output
    assert "the reference says" in text

    project = Project(workspace, config)
    kept = export_dataset(project, ExportSettings(name="all", overwrite=True))
    cut = export_dataset(project, ExportSettings(name="cut", overwrite=True, max_suspicion=0.5))
    assert sum(kept.written.values()) - sum(cut.written.values()) == PLANTED
    reasons = {e["record_id"]: e["reason"] for e in cut.excluded_records}
    assert all(reasons[r].startswith("a suspected label error (suspicion 0.8") for r in planted)


def test_the_report_says_whether_the_labels_can_be_trusted(labelled, runner):
    from curate.report.stage import build_report

    workspace, config, planted = labelled
    report = build_report(Project(workspace, config))
    labels = report["labels"]["entity_match"]
    assert labels["suspected"] == PLANTED and labels["in_conflict"] == 0
    assert {r["record_id"] for r in labels["most_suspected"]} <= planted
    (ann,) = labels["annotators"].values()
    assert ann["gold"] >= 3 * PLANTED and ann["gold_accuracy"] < 1  # the planted ones
    args = ["--workspace", str(workspace.root), "--config", str(config.path)]
    shown = " ".join(runner.invoke(main, [*args, "report"]).output.split())  # unwrapped
    assert "Can we trust the labels?" in shown and f"{PLANTED} suspected label errors" in shown


def test_a_gold_share_is_seeded_among_the_pushed_and_gives_nothing_away(tmp_path):
    """[tasks.NAME.queue] gold_share with trusted references: a share of what is pushed is
    records the references answer, their class the label read from the output."""
    from curate.core.config import load_config
    from curate.queue import memory
    from curate.queue.stage import push_queue

    extra = '\n[tasks.entity_match.answers]\nreferences = "trust"\n'
    extra += "[tasks.entity_match.queue]\ngold_share = 0.2\n" + '[queue]\nbackend = "memory"\n'
    workspace, config = balanced_sample(tmp_path, 60, 5, extra)
    (pushed,) = push_queue(Project(workspace, config), task="entity_match")
    assert pushed.gold > 0
    assert pushed.gold == round(0.2 * (pushed.pushed - pushed.gold) / 0.8)
    sent = memory.connect(load_config(config.path)).datasets["curate-entity_match"].records
    known = referenced_records(workspace).drop_nulls("reference")
    gold = set(sent) & set(known["record_id"])
    assert len(gold) == pushed.gold
    read = dict(workspace.read_table("labels").select("record_id", "label").iter_rows())
    for record_id in gold:  # what the annotator sees is the model's label, not the reference's
        assert sent[record_id]["suggestions"].get("label", {}).get("value") in (
            read[record_id],
            None,
        )
