from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from typing import ClassVar

import polars as pl
import pytest

from curate.cli import main
from curate.core.config import Config
from curate.core.errors import ConfigError
from curate.core.project import Project
from curate.detect import detectors as registry
from curate.detect.detectors import Detector, Option
from curate.detect.stage import find_failures, read_findings
from tests.detect.detectors.helpers import LABELS, TOPICS, put


class LongOutput(Detector):
    """A throwaway third-party detector, registered through the entry point group."""

    name: ClassVar[str] = "long_output"
    description: ClassVar[str] = "outputs longer than a limit"
    options: ClassVar[dict[str, Option]] = {"max_chars": Option(10, "the limit")}

    def find(self, records, task):
        too_long = pl.col("output").str.len_chars() > self.settings["max_chars"]
        return records.filter(too_long).select("record_id", pl.lit("too long").alias("evidence"))


@pytest.fixture
def plugin(monkeypatch):
    import curate.core.plugins

    real = curate.core.plugins.entry_points

    def with_plugin(group):
        points = list(real(group=group))
        if group != registry.GROUP:
            return points
        return [*points, EntryPoint("long_output", "tests.detect.test_detect:LongOutput", group)]

    monkeypatch.setattr(curate.core.plugins, "entry_points", with_plugin)
    registry.available.cache_clear()
    yield
    registry.available.cache_clear()


def test_a_third_party_detector_registers_like_the_built_ins(workspace, plugin):
    ids = put(workspace, [{"output": "short"}, {"output": "much longer than ten"}])
    result = find_failures(
        Project(workspace, Config(data={"detectors": {"long_output": {"max_chars": 8}}}))
    )
    assert result.detectors["long_output"]["count"] == 1
    found = read_findings(workspace).filter(pl.col("detector") == "long_output")
    assert found["record_id"].to_list() == [ids[1]]
    assert "long_output" in registry.available() and "refusal" in registry.available()


def test_unknown_detector_names_suggest_the_nearest(workspace):
    put(workspace, [{"output": "x"}])
    with pytest.raises(
        ConfigError,
        match=r"unknown detector 'refusl'.*did you mean 'refusal'\? available: api_error",
    ):
        find_failures(Project(workspace, Config()), only=["refusl"])
    with pytest.raises(ConfigError, match=r"\[detectors.trunc\].*did you mean 'truncated'"):
        find_failures(Project(workspace, Config(data={"detectors": {"trunc": {}}})))


def test_not_applicable_said_once_and_several_findings_per_record(workspace):
    ids = put(
        workspace,
        [{"output": '{"decision": "maybe"', "finish_reason": "length", "reference": "match"}],
        task="em",
    )
    put(workspace, [{"output": "refund"}], task="t")
    result = find_failures(Project(workspace, Config(data={"tasks": {"em": LABELS, "t": TOPICS}})))
    found = read_findings(workspace)
    mine = set(found.filter(pl.col("record_id") == ids[0])["detector"])
    assert {"truncated", "invalid_json", "label_unparseable"} <= mine
    skipped = [(n["detector"], n["task"]) for n in result.not_applicable]
    assert ("invalid_json", "t") in skipped and skipped.count(("invalid_json", "t")) == 1
    assert result.detectors["invalid_json"]["checked"] == 1
    assert result.by_task["t"]["detectors"] == {"label_out_of_vocab": 1}


def test_detect_keeps_each_records_label_and_class(workspace):
    """Labels are read once, by detect; balance reads them from the labels table."""
    rows = [
        {"output": '{"decision": "Non-Match"}'},  # read through label_key
        {"output": '{"decision": "maybe"}', "reference": "same"},  # a synonym as the reference
        {"output": '{"other": 1}'},
        {"output": None, "error": "boom"},
    ]
    ids = put(workspace, rows, task="em")
    put(workspace, [{"output": "anything"}], task="free")
    tasks = {"em": LABELS, "free": {"kind": "generation"}}
    find_failures(Project(workspace, Config(data={"tasks": tasks})))
    labels = workspace.read_table("labels")
    got = {r["record_id"]: r for r in labels.iter_rows(named=True)}
    assert set(got) == set(ids), "records of tasks without labels have no row"
    assert [(got[i]["label"], got[i]["label_status"], got[i]["class"]) for i in ids] == [
        ("non_match", "ok", "non_match"),
        (None, "out_of_vocab", "match"),
        (None, "unparseable", None),
        (None, None, None),
    ]
    assert got[ids[1]]["label_raw"] == "maybe"


def test_only_replaces_just_those_detectors(workspace):
    put(workspace, [{"output": "", "error": "boom"}, {"output": "x", "finish_reason": "length"}])
    find_failures(Project(workspace, Config()))
    before = read_findings(workspace)
    find_failures(Project(workspace, Config()), only=["truncated"])
    after = read_findings(workspace)
    assert before.sort("record_id", "detector").equals(after.sort("record_id", "detector"))


def test_records_of_undefined_tasks_get_a_warning(workspace):
    put(workspace, [{"output": "x"}], task="ghost")
    result = find_failures(Project(workspace, Config()))
    assert any("task 'ghost'" in w for w in result.warnings)


def test_cli_detect_failures_detectors(runner, workspace, tmp_path):
    put(workspace, [{"output": "x", "finish_reason": "length"}, {"output": "fine"}])
    ws = ["--workspace", str(workspace.root), "--config", str(tmp_path / "none.toml")]
    (tmp_path / "none.toml").write_text("")
    result = runner.invoke(main, [*ws, "detect", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["records"] == 2 and data["detectors"]["truncated"]["count"] == 1
    assert data["detectors"]["truncated"]["rate"] == 0.5
    assert set(data["by_model"]) == {"(none)"}
    human = runner.invoke(main, [*ws, "detect"])
    assert "truncated" in human.output and "50.0%" in human.output
    shown = json.loads(
        runner.invoke(main, [*ws, "failures", "--detector", "truncated", "--json"]).stdout
    )
    assert shown["total"] == 1 and shown["failures"][0]["input"] == "input 0"
    assert shown["failures"][0]["evidence"] == "finish_reason=length"
    bad = runner.invoke(main, [*ws, "detect", "--only", "nope"])
    assert bad.exit_code == 2 and "unknown detector 'nope'" in bad.output
    listed = json.loads(runner.invoke(main, ["detectors", "--json"]).stdout)["detectors"]
    assert {d["name"] for d in listed} >= {"invalid_json", "tool_call_invalid", "inconsistent"}
