"""promptfoo eval results (`-o results.json` and `-o results.jsonl`): each result one record, its
test's task and answer the record's task and reference. The document is a real promptfoo 0.121
output (curate's eval suite against the tests' replay server), cut to three results."""

from __future__ import annotations

import json
from pathlib import Path

from curate.core.project import Project
from curate.ingest.formats.promptfoo import model_of
from curate.ingest.stage import ingest_logs
from tests.conftest import quarantine, records, write_jsonl

RESULTS = Path(__file__).parent / "data" / "promptfoo_results.json"


def test_a_results_document_reads_one_record_per_result(workspace):
    result = ingest_logs(Project(workspace), [RESULTS])
    assert (result.ingested, result.quarantined) == (3, 0)
    assert result.sources[0].format == "promptfoo"
    doc = json.loads(RESULTS.read_text())["results"]["results"]
    got = {r["source_id"]: r for r in records(workspace).iter_rows(named=True)}
    for item in doc:
        row = got[item["id"]]
        assert row["model"] == "gpt-4o-mini-2024-07-18"
        assert [m["role"] for m in row["messages"]] == ["system", "user"]
        assert row["messages"][1]["content"] == json.loads(item["prompt"]["raw"])[1]["content"]
        assert row["output"] == item["response"]["output"]
        assert (row["task"], row["reference"]) == ("entity_match", item["vars"]["answer"])
        assert row["prompt_tokens"] == item["response"]["tokenUsage"]["prompt"]
        assert row["finish_reason"] == "stop" and row["latency_ms"] == item["latencyMs"]
        meta = json.loads(row["metadata"])
        assert meta["record_id"] == item["testCase"]["metadata"]["record_id"]
        assert meta["promptfoo"]["success"] is True


def test_results_lines_and_a_broken_one_quarantined(tmp_path, workspace):
    doc = json.loads(RESULTS.read_text())["results"]["results"]
    errored = doc[1] | {"id": "e1", "error": "API error: 500", "response": None, "success": False}
    path = write_jsonl(tmp_path / "results.jsonl", [doc[0], {"not": "a result"}, errored])
    result = ingest_logs(Project(workspace), [path])
    assert (result.ingested, result.quarantined) == (2, 1)
    assert quarantine(workspace)["line"].to_list() == [2]
    failed = records(workspace).filter(records(workspace)["source_id"] == "e1").row(0, named=True)
    assert failed["error"] == "API error: 500" and failed["output"] is None


def test_a_document_with_a_broken_result_keeps_the_rest(tmp_path, workspace):
    doc = json.loads(RESULTS.read_text())
    doc["results"]["results"].insert(1, ["not", "a", "result"])
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    result = ingest_logs(Project(workspace), [path])
    assert (result.ingested, result.quarantined) == (3, 1)
    assert quarantine(workspace)["line"].to_list() == [2]


def test_the_model_is_what_follows_the_providers_prefix():
    assert model_of({"id": "openai:chat:ft:gpt-4o-mini:acme::x1"}) == "ft:gpt-4o-mini:acme::x1"
    assert model_of({"id": "anthropic:messages:claude-sonnet-4"}) == "claude-sonnet-4"
    assert model_of("ollama:llama3.1") == "llama3.1"
    assert model_of({"id": None}) is None


def test_lines_that_only_begin_like_a_document_are_read_as_lines(tmp_path, workspace):
    """A first line `{"evalId": ...}` and more lines after it: no traceback, each line read or
    quarantined with its number."""
    doc = json.loads(RESULTS.read_text())["results"]["results"]
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"evalId": 1}\n' + json.dumps(doc[0]) + "\nnot json\n")
    result = ingest_logs(Project(workspace), [path])
    assert (result.ingested, result.quarantined) == (1, 2)
    assert quarantine(workspace)["line"].to_list() == [1, 3]
