"""A damaged workspace: every table file cut short in turn (and the manifest broken), every
command ends with a message naming the damaged file, never a traceback; `curate doctor --fix`
moves it aside (never deletes it) and the workspace is usable again."""

from __future__ import annotations

import json
import shutil

import pytest

from curate.cli import main
from curate.core.doctor import table_files
from curate.core.workspace import Workspace
from tests.conftest import SAMPLE

COMMANDS = [
    ["status"],
    ["detect"],
    ["failures"],
    ["balance", "--target", "50"],
    ["report"],
    ["export", "--name", "x"],
    ["quarantine"],
]


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    from click.testing import CliRunner

    root = tmp_path_factory.mktemp("healthy")
    shutil.copy(SAMPLE / "curate.toml", root / "curate.toml")
    shutil.copy(SAMPLE / "entity_match_output.schema.json", root)
    args = ["--workspace", str(root / ".curate"), "--config", str(root / "curate.toml")]
    runner = CliRunner()
    batch = [str(SAMPLE / "ticket_batch_output.jsonl"), str(SAMPLE / "ticket_batch_input.jsonl")]
    bad = root / "bad.jsonl"
    bad.write_text('{"custom_id": "x", "response": 5}\nnot json\n')  # some quarantine rows
    for command in (
        ["ingest", *batch, "--task", "ticket_topic"],
        ["ingest", str(bad), "--format", "openai_batch"],
        ["detect"],
        ["balance", "--target", "50"],
    ):
        result = runner.invoke(main, [*args, *command])
        assert result.exit_code == 0, (command, result.output)
    return root


def _files(root) -> list[str]:
    workspace = Workspace(root / ".curate")
    names = [str(p.relative_to(workspace.root)) for p in table_files(workspace)]
    return [*names, "manifest.json"]


def test_every_table_file_is_checked(healthy):
    names = _files(healthy)
    for table in ("records/", "quarantine/", "findings", "labels", "clusters", "candidates"):
        assert any(n.startswith(table) for n in names), table


@pytest.mark.parametrize("damage", ["cut", "garbage"])
def test_each_damaged_file_is_named_by_every_command(healthy, tmp_path, runner, damage):
    # what each command says on the whole workspace (export: "no resolved table yet")
    whole = tmp_path / "whole"
    shutil.copytree(healthy, whole)
    args = ["--workspace", str(whole / ".curate"), "--config", str(whole / "curate.toml")]
    expected = {}
    for command in COMMANDS:
        result = runner.invoke(main, [*args, *command])
        expected[tuple(command)] = " ".join(result.output.split()) if result.exit_code else None
    for name in _files(healthy):
        root = tmp_path / name.replace("/", "_")
        shutil.copytree(healthy, root)
        target = root / ".curate" / name
        if name == "manifest.json":
            target.write_text("[]" if damage == "cut" else '{"sources": 3}')
        elif damage == "cut":
            target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
        else:
            target.write_bytes(b"not parquet at all")
        args = ["--workspace", str(root / ".curate"), "--config", str(root / "curate.toml")]
        found = runner.invoke(main, [*args, "doctor", "--json"])
        assert found.exit_code == 1
        assert [d["path"] for d in json.loads(found.stdout)["damaged"]] == [name]
        for command in COMMANDS:
            result = runner.invoke(main, [*args, *command])
            said = " ".join(result.output.split())
            assert result.exception is None or isinstance(result.exception, SystemExit), (
                name,
                command,
                repr(result.exception),
            )
            if result.exit_code and said != expected[tuple(command)]:
                assert name.split("/")[-1] in said, (name, command, said)
        # a stage that rewrites its table (detect, balance) mends it; what is left is moved
        fixed = json.loads(runner.invoke(main, [*args, "doctor", "--fix", "--json"]).stdout)
        assert all((root / ".curate" / moved).is_file() for moved in fixed["moved"])
        if name.startswith(("records/", "quarantine/", "manifest")):  # no command rewrites them
            assert len(fixed["moved"]) == 1, fixed
        assert runner.invoke(main, [*args, "doctor"]).exit_code == 0
        assert runner.invoke(main, [*args, "status"]).exit_code == 0
