"""References that change or contradict themselves: a corrected references file corrects the
records it names (before: re-ingest said "matched" and kept the old answers), and trusted
references that give one input two answers answer for none of its records (before: both went
into the training set, unannounced)."""

from __future__ import annotations

import json

import polars as pl

from curate.cli import main
from curate.core.project import Project
from curate.export.stage import ExportSettings, export_dataset
from curate.queue.memory import MemoryQueue
from curate.queue.stage import push_queue
from tests.conftest import chat_line, write_jsonl

TOPICS = ["billing", "technical", "other"]


def _config(extra: str = "") -> str:
    return (
        '[tasks.topic]\nkind = "classification"\nlabels = ["billing", "technical", "other"]\n'
        + extra
    )


def _refs(path, rows: dict[str, str]) -> None:
    path.write_text("id,reference\n" + "".join(f"{k},{v}\n" for k, v in rows.items()))


def _args(root) -> list[str]:
    return ["--workspace", str(root / ".curate"), "--config", str(root / "curate.toml")]


def _run(runner, args) -> dict:
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_corrected_references_file_corrects_the_records(tmp_path, runner):
    (tmp_path / "curate.toml").write_text(_config())
    lines = [chat_line(i, TOPICS[i % 3], system="Topic?") for i in range(30)]
    write_jsonl(tmp_path / "calls.jsonl", lines)
    ids = [f"chatcmpl-{i}" for i in range(30)]
    wrong = {rid: TOPICS[(i + 1) % 3] for i, rid in enumerate(ids)}  # every reference wrong
    right = {rid: TOPICS[i % 3] for i, rid in enumerate(ids)}
    _refs(tmp_path / "refs.csv", wrong)
    args = _args(tmp_path)
    ingest = [*args, "ingest", str(tmp_path / "calls.jsonl"), "--task", "topic", "--references"]
    first = _run(runner, [*ingest, str(tmp_path / "refs.csv")])
    assert first["references"] == {"given": 30, "matched": 30, "unmatched": 0, "corrected": 0}
    assert _run(runner, [*args, "detect"])["detectors"]["reference_mismatch"]["count"] == 30

    _refs(tmp_path / "refs.csv", right | {ids[0]: wrong[ids[0]]})  # one left as it was
    again = _run(runner, [*ingest, str(tmp_path / "refs.csv")])
    assert (again["ingested"], again["duplicates"]) == (0, 30)
    assert again["references"]["corrected"] == 29
    assert any(
        "29 records already in the workspace had another reference" in w for w in again["warnings"]
    )
    stored = dict(_stored(tmp_path).select("source_id", "reference").iter_rows())
    assert stored == right | {ids[0]: wrong[ids[0]]}
    assert _run(runner, [*args, "detect"])["detectors"]["reference_mismatch"]["count"] == 1
    # the same file again changes nothing; nothing was lost or doubled
    third = _run(runner, [*ingest, str(tmp_path / "refs.csv")])
    assert third["references"]["corrected"] == 0
    assert _stored(tmp_path).height == 30


def _stored(root) -> pl.DataFrame:
    from curate.core.workspace import Workspace

    return Workspace(root / ".curate").scan_records().collect()


def test_trusted_references_that_contradict_answer_for_none(tmp_path, runner, monkeypatch):
    (tmp_path / "curate.toml").write_text(_config('[tasks.topic.answers]\nreferences = "trust"\n'))
    rows, refs = [], {}
    for i in range(40):
        line = chat_line(i, "Topic: " + TOPICS[i % 3], system="Topic?")  # all out of vocab
        rows.append(line)
        refs[f"chatcmpl-{i}"] = TOPICS[i % 3]
    for i in range(5):  # the same five inputs asked again, referenced otherwise
        line = chat_line(i, "Topic: " + TOPICS[i % 3], system="Topic?")
        line["response"]["id"] = f"again-{i}"
        rows.append(line)
        refs[f"again-{i}"] = TOPICS[(i + 1) % 3]
    write_jsonl(tmp_path / "calls.jsonl", rows)
    _refs(tmp_path / "refs.csv", refs)
    args = _args(tmp_path)
    ingest = [*args, "ingest", str(tmp_path / "calls.jsonl"), "--task", "topic"]
    assert _run(runner, [*ingest, "--references", str(tmp_path / "refs.csv")])["ingested"] == 45
    _run(runner, [*args, "detect"])
    _run(runner, [*args, "balance", "--target", "45", "--seed", "1"])

    from curate.core.config import load_config
    from curate.core.workspace import Workspace

    queue = MemoryQueue()
    project = Project(
        Workspace(tmp_path / ".curate"), load_config(tmp_path / "curate.toml"), queue_backend=queue
    )
    candidates = project.workspace.read_table("candidates")
    (pushed,) = push_queue(project)
    contradicted = {f"chatcmpl-{i}" for i in range(5)} | {f"again-{i}" for i in range(5)}
    by_source = dict(
        project.workspace.scan_records().select("record_id", "source_id").collect().iter_rows()
    )
    chosen = {by_source[r] for r in candidates["record_id"]}
    expected = len(chosen & contradicted)
    assert expected > 0
    assert pushed.contradicting_references == expected
    assert {
        by_source[r] for d in queue.datasets.values() for r in d.records
    } == chosen & contradicted
    assert pushed.answered_by_reference == len(chosen) - expected

    result = export_dataset(project, ExportSettings(name="t", allow_small=True, seed=1))
    manifest = json.loads((project.workspace.root / "exports" / "t" / "manifest.json").read_text())
    exported = {by_source[e["record_id"]] for e in manifest["examples"]}
    assert not exported & contradicted
    assert any(
        f"{expected} candidates have an input whose references disagree" in w
        for w in result.warnings
    )
