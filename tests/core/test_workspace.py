from __future__ import annotations

import json
import multiprocessing
import time

import pytest

from curate.core.config import load_config, load_schema
from curate.core.errors import ConfigError, WorkspaceError, WorkspaceLocked
from curate.core.workspace import Workspace, atomic_write_bytes


def test_locate_prefers_flag_then_env_then_config(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / "curate.toml").write_text("")
    monkeypatch.chdir(project / "sub")
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    assert Workspace.locate().root == (project / ".curate").resolve()
    monkeypatch.setenv("CURATE_WORKSPACE", str(tmp_path / "env"))
    assert Workspace.locate().root == (tmp_path / "env").resolve()
    assert Workspace.locate(workspace=tmp_path / "flag").root == (tmp_path / "flag").resolve()


def test_missing_and_damaged_workspace(tmp_path):
    ws = Workspace(tmp_path / ".curate")
    with pytest.raises(WorkspaceError, match="run `curate init`"):
        ws.manifest()
    ws.create()
    ws.manifest_path.write_text("{broken")
    with pytest.raises(WorkspaceError, match="cannot be read"):
        ws.manifest()
    ws.manifest_path.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(WorkspaceError, match="schema_version 99"):
        ws.manifest()


def _hold_lock(root: str, ready, release) -> None:
    with Workspace(root).lock("ingest big.jsonl"):
        ready.set()
        release.wait(10)


def test_second_process_gets_a_clear_lock_message(tmp_path):
    ws = Workspace(tmp_path / ".curate")
    ws.create()
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(ws.root), ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        start = time.monotonic()
        locked = r"locked by `curate ingest big.jsonl` \(pid \d+"
        with pytest.raises(WorkspaceLocked, match=locked), ws.lock("status", timeout=0.3):
            pass
        assert time.monotonic() - start < 5
    finally:
        release.set()
        holder.join(20)
    with ws.lock("status", timeout=1):  # free again once the holder is gone
        pass


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "f.json"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_config_validation_names_the_field(tmp_path):
    path = tmp_path / "curate.toml"
    path.write_text('[tasks.em]\nkind = "pair_matching"\nlabels = []\n')
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "tasks.em.kind" in message and "tasks.em.labels" in message
    path.write_text("[tasks\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    path.write_text('[tsks.em]\nkind = "pair_match"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'tsks' \(did you mean 'tasks'"):
        load_config(path)


def test_sample_config_is_valid():
    from tests.conftest import SAMPLE

    config = load_config(SAMPLE / "curate.toml")
    assert set(config.tasks) == {"entity_match", "ticket_topic"}


def test_schemas_ship_with_the_package():
    assert load_schema("record")["title"] == "curate canonical record"
    assert "reason" in load_schema("quarantine")["properties"]


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf"])
def test_a_bad_lock_timeout_is_a_clear_error(runner, tmp_path, monkeypatch, value):
    from curate.cli import main
    from tests.conftest import chat_line, write_jsonl

    monkeypatch.setenv("CURATE_LOCK_TIMEOUT", value)
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1)])
    result = runner.invoke(main, ["--workspace", str(tmp_path / ".curate"), "ingest", str(path)])
    assert result.exit_code == 1 and "CURATE_LOCK_TIMEOUT" in result.output
    assert not isinstance(result.exception, ValueError)


def test_a_table_written_sorted_a_slice_at_a_time_is_the_sorted_table(tmp_path, monkeypatch):
    """StageRun.write(sort_by=...) writes the rows in order a slice of the order at a time
    (detect's labels at millions of records): the same table as a sort, ties in their order."""
    import polars as pl

    from curate.core import tables as tables_module

    monkeypatch.setattr(tables_module, "SORTED_SLICE_ROWS", 7)
    ws = Workspace(tmp_path / ".curate")
    ws.create()
    ids = [f"r{(i * 37) % 50:02d}" for i in range(50)] + ["r03", "r03"]
    frame = pl.DataFrame(
        {
            "record_id": ids,
            "task": ["t"] * len(ids),
            "label_raw": [str(i) for i in range(len(ids))],  # the ties' order shows here
            "label": ["x"] * len(ids),
            "label_status": ["ok"] * len(ids),
            "class": [None] * len(ids),
        },
        schema_overrides={"class": pl.String},
    )
    with ws.stage("detect", {}) as run:
        run.write("labels", frame, sort_by=["record_id"])
    got = ws.read_table("labels")
    expected = frame.sort("record_id", maintain_order=True)
    assert got.select(expected.columns).equals(expected.cast(dict(got.schema)))
    assert got.filter(pl.col("record_id") == "r03")["label_raw"].to_list() == ["19", "50", "51"]
