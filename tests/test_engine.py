"""The daft engine gives the local engine's answers: findings, labels, counts, row for row.

Daft runs in this process on all cores here; tests/integration/test_ray.py runs the same on
the Ray cluster `make test` starts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from curate.config import Config, load_config
from curate.detect import find_failures
from curate.engine import Engine
from curate.errors import ConfigError
from curate.ingest import ingest_logs
from curate.project import Project
from curate.workspace import Workspace
from tests.conftest import SAMPLE

DAFT = Engine(kind="daft", partition_rows=1000)  # small partitions: many of them, even here


def sample_project(root: Path) -> Project:
    """Both sample tasks ingested (chat logs, and Batch output with its input file)."""
    for name in ("curate.toml", "entity_match_output.schema.json"):
        shutil.copy(SAMPLE / name, root / name)
    project = Project(
        Workspace(root / ".curate", root / "curate.toml"), load_config(root / "curate.toml")
    )
    ingest_logs(
        project,
        [SAMPLE / "entity_match_chat.jsonl.gz"],
        task="entity_match",
        references=SAMPLE / "entity_match_references.csv",
    )
    ingest_logs(
        project,
        [SAMPLE / "ticket_batch_output.jsonl", SAMPLE / "ticket_batch_input.jsonl"],
        task="ticket_topic",
        references=SAMPLE / "ticket_references.csv",
    )
    return project


def detect_both(project: Project) -> tuple[dict, dict]:
    """Detect with each engine: (result dict, findings, labels) per engine."""
    out = {}
    for engine in (Engine(), DAFT):
        result = find_failures(project, engine=engine).to_dict()
        result.pop("engine")
        out[engine.kind] = (
            result,
            project.workspace.read_table("findings"),
            project.workspace.read_table("labels"),
        )
    return out["local"], out["daft"]


def test_detect_on_daft_equals_local_on_the_sample(tmp_path):
    local, daft = detect_both(sample_project(tmp_path))
    assert local[1].height > 1000 and local[2].height == 3600
    assert local[0] == daft[0]
    assert local[1].equals(daft[1])
    assert local[2].equals(daft[2])
    # inconsistent compares records across partitions' boundaries only if the engine keeps
    # each input's records together: it must have found something to compare
    assert local[0]["detectors"]["inconsistent"]["count"] > 0


def test_detect_on_daft_equals_local_on_200k_generated_records(tmp_path):
    from bench.detect import SCHEMA, TASKS, make_records

    (tmp_path / "em.schema.json").write_text(__import__("json").dumps(SCHEMA))
    workspace = Workspace(tmp_path / ".curate")
    workspace.create()
    # about four records per input, so the answers to one input can disagree
    frame = make_records(200_000).with_columns(pl.col("input_hash") % 50_000)
    # several parts, as ingest writes them, so partitions cut across files
    for start in range(0, frame.height, 70_000):
        frame.slice(start, 70_000).write_parquet(workspace.part_path("records"))
    project = Project(workspace, Config(path=tmp_path / "curate.toml", data={"tasks": TASKS}))
    local, daft = detect_both(project)
    assert local[0]["records"] == 200_000
    assert local[0] == daft[0]
    assert local[1].equals(daft[1])
    assert local[2].equals(daft[2])
    found = local[0]["detectors"]
    assert found["inconsistent"]["count"] > 1000 and found["invalid_json"]["count"] > 1000


def test_detect_only_on_daft_keeps_the_other_findings(tmp_path):
    project = sample_project(tmp_path)
    find_failures(project)
    everything = project.workspace.read_table("findings")
    find_failures(project, only=["refusal"], engine=DAFT)
    assert project.workspace.read_table("findings").equals(everything)


def test_engine_settings_and_errors(tmp_path, monkeypatch):
    assert Engine.from_config({}).kind == "local"
    assert Engine.from_config({"kind": "daft"}).distributed
    assert Engine.from_config({"kind": "daft"}, kind="local").kind == "local"
    with pytest.raises(ConfigError, match="unknown engine 'spark'"):
        Engine.from_config({}, kind="spark")
    with pytest.raises(ConfigError, match="--engine daft"):
        Engine.from_config({}, ray_address="127.0.0.1:6390")
    monkeypatch.setenv("CURATE_RAY_ADDRESS", "10.0.0.1:6379")
    assert Engine.from_config({"kind": "daft"}).ray_address == "10.0.0.1:6379"
    # the config schema knows the section
    (tmp_path / "curate.toml").write_text('[engine]\nkind = "dask"\n')
    with pytest.raises(ConfigError, match=r"engine\.kind"):
        load_config(tmp_path / "curate.toml")


def test_detect_on_daft_with_no_records(tmp_path):
    workspace = Workspace(tmp_path / ".curate")
    workspace.create()
    result = find_failures(Project(workspace), engine=DAFT)
    assert result.records == 0 and result.findings == 0
    assert workspace.read_table("findings").height == 0


def test_records_parts_missing_a_newer_column_read_on_daft(tmp_path):
    """A part written before a column joined the schema reads it as missing, as locally."""
    project = sample_project(tmp_path)
    parts = project.workspace.parts("records")
    old = pl.read_parquet(parts[0]).drop("confidence")
    old.write_parquet(parts[0])
    local, daft = detect_both(project)
    assert local[0] == daft[0] and local[1].equals(daft[1])
