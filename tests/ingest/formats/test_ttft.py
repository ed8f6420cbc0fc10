"""Time to first token, read where each format logs it."""

from __future__ import annotations

import json

import pytest

from curate.core.project import Project
from curate.ingest.stage import ingest_logs
from tests import logs
from tests.conftest import records


def _line(fmt: str) -> dict:
    call = logs.calls(1)[0]
    line = logs.WRITERS[fmt](call)
    if fmt == "langfuse":
        line["observations"][0]["startTime"] = "2026-10-01T10:00:00.000Z"
        line["observations"][0]["completionStartTime"] = "2026-10-01T10:00:00.350Z"
    elif fmt == "langsmith":
        line["start_time"] = "2026-10-01T10:00:00.000000"
        line["first_token_time"] = "2026-10-01T10:00:00.350000"
    elif fmt == "otel":
        attrs = line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]
        attrs.append({"key": "gen_ai.response.time_to_first_chunk", "value": {"doubleValue": 0.35}})
    elif fmt == "litellm":
        line |= {"stream": True, "startTime": 1790000000.0, "completionStartTime": 1790000000.35}
    else:
        line["ttft_ms"] = 350.0
    return line


@pytest.mark.parametrize("fmt", ["openai_chat", "langfuse", "langsmith", "otel", "litellm"])
def test_time_to_first_token(tmp_path, workspace, fmt):
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps(_line(fmt)) + "\n")
    assert ingest_logs(Project(workspace), [path], format_name=fmt).ingested == 1
    assert records(workspace)["ttft_ms"].to_list() == [pytest.approx(350, abs=0.01)]


def test_litellm_completion_start_of_a_call_not_streamed_is_not_ttft(tmp_path, workspace):
    line = _line("litellm") | {"stream": False}
    path = tmp_path / "log.jsonl"
    path.write_text(json.dumps(line) + "\n")
    ingest_logs(Project(workspace), [path])
    assert records(workspace)["ttft_ms"].to_list() == [None]
