"""Log formats and export formats register like detectors: a throwaway one of each, through the
entry point groups, used by ingest and export as curate's own are."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint
from typing import Any, ClassVar

import pytest

import curate.core.plugins
from curate.core.errors import ConfigError
from curate.core.project import Project
from curate.export import exporters
from curate.export.exporters import Exporter
from curate.export.stage import ExportSettings, export_dataset
from curate.ingest import formats
from curate.ingest.formats.base import Batch, LogFormat, Quarantined, records_frame
from curate.ingest.stage import ingest_logs
from tests.conftest import records
from tests.export.test_export import annotated  # noqa: F401 - a fixture


class PipeLog(LogFormat):
    """`input | output` lines: a team's home-made log."""

    name: ClassVar[str] = "pipe_log"
    expects: ClassVar[str] = "lines of `input | output`"

    def sniff(self, sample) -> bool:
        return sample.head.count(b" | ") >= 1 and not sample.objects

    def read(self, source, ctx):
        rows, bad = [], []
        for number, line in enumerate(source.read_all().decode().splitlines(), 1):
            if " | " not in line:
                bad.append(Quarantined(number, "no ` | ` between input and output", line))
                continue
            text, output = line.split(" | ", 1)
            rows.append(
                {
                    "source_id": f"pipe-{number}",
                    "source_line": number,
                    "messages": [{"role": "user", "content": text}],
                    "output": output,
                    "_raw": line,
                }
            )
        yield Batch(records_frame(rows), bad)


class PlainText(Exporter):
    name: ClassVar[str] = "plain_text"
    description: ClassVar[str] = "{text}: the turns and the answer as one text"

    def render(self, example) -> list[dict[str, Any]]:
        turns = "\n".join(m["content"] for m in example.messages)
        return [{"text": turns + "\n=> " + example.answer["content"]}]


@pytest.fixture
def plugins(monkeypatch):
    real = curate.core.plugins.entry_points
    extra = {
        formats.GROUP: EntryPoint("pipe_log", "tests.test_plugins:PipeLog", formats.GROUP),
        exporters.GROUP: EntryPoint("plain_text", "tests.test_plugins:PlainText", exporters.GROUP),
    }

    def with_plugins(group):
        points = list(real(group=group))
        return [*points, extra[group]] if group in extra else points

    monkeypatch.setattr(curate.core.plugins, "entry_points", with_plugins)
    formats.available.cache_clear()
    exporters.available.cache_clear()
    yield
    formats.available.cache_clear()
    exporters.available.cache_clear()


def test_a_third_party_log_format_is_detected_and_read(plugins, tmp_path, workspace):
    assert list(formats.available())[-1] == "pipe_log", "after the built-ins (priority 100)"
    path = tmp_path / "home.log"
    path.write_text("is the sky blue? | yes\nno separator here\nwho wrote it? | nobody\n")
    result = ingest_logs(Project(workspace), [path])
    assert (result.ingested, result.quarantined, result.by_format) == (2, 1, {"pipe_log": 2})
    got = records(workspace)
    assert got["output"].to_list() == ["yes", "nobody"]
    assert got["source_line"].to_list() == [1, 3]


def test_without_the_plugin_the_format_is_unknown(tmp_path, workspace):
    path = tmp_path / "home.log"
    path.write_text("is the sky blue? | yes\n")
    with pytest.raises(Exception, match="matches no log format"):
        ingest_logs(Project(workspace), [path])


def test_a_third_party_export_format_writes_the_examples(plugins, annotated):  # noqa: F811
    workspace, config, _, _ = annotated
    project = Project(workspace, config)
    result = export_dataset(project, ExportSettings(name="plain", format="plain_text", seed=1))
    lines = (workspace.root / "exports" / "plain" / "train.jsonl").read_text().splitlines()
    assert len(lines) == result.written["train"] > 0
    assert all(set(json.loads(line)) == {"text"} for line in lines)
    assert "\n=> " in json.loads(lines[0])["text"]
    with pytest.raises(ConfigError, match=r"unknown format 'plain_txt'; did you mean 'plain_text'"):
        export_dataset(project, ExportSettings(name="x", format="plain_txt"))


def test_a_plugin_with_a_wrong_name_is_a_clear_error(monkeypatch):
    real = curate.core.plugins.entry_points
    wrong = EntryPoint("pipe", "tests.test_plugins:PipeLog", formats.GROUP)
    monkeypatch.setattr(
        curate.core.plugins,
        "entry_points",
        lambda group: [*real(group=group), wrong] if group == formats.GROUP else real(group=group),
    )
    formats.available.cache_clear()
    try:
        with pytest.raises(ConfigError, match="loads a log format named 'pipe_log'"):
            formats.available()
    finally:
        formats.available.cache_clear()
