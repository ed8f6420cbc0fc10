from __future__ import annotations

import pytest

from curate.core.errors import InputError
from curate.core.project import Project
from curate.ingest.stage import ingest_logs
from tests.conftest import records, write_jsonl


def _input(custom_id: str, text: str) -> dict:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4.1-nano", "messages": [{"role": "user", "content": text}]},
    }


def _output(custom_id: str, content: str | None, status: int = 200, finish: str = "stop") -> dict:
    if status != 200:
        body = {"error": {"message": "server error", "type": "server_error"}}
    else:
        body = {
            "id": f"chatcmpl-{custom_id}",
            "model": "gpt-4.1-nano-2025-04-14",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1},
        }
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": {"status_code": status, "body": body},
        "error": None,
    }


def test_output_joined_with_input_on_custom_id(tmp_path, workspace):
    inputs = write_jsonl(tmp_path / "in.jsonl", [_input("a", "first"), _input("b", "second")])
    outputs = write_jsonl(
        tmp_path / "out.jsonl", [_output("b", "billing"), _output("a", "oth", finish="length")]
    )
    result = ingest_logs(Project(workspace), [outputs, inputs])
    assert result.ingested == 2 and result.warnings == []
    assert result.sources[0].format == "openai_batch_input" and result.sources[0].requests == 2
    got = {r["source_id"]: r for r in records(workspace).iter_rows(named=True)}
    assert got["a"]["messages"][0]["content"] == "first" and got["a"]["finish_reason"] == "length"
    assert got["b"]["output"] == "billing" and got["b"]["status_code"] == 200


def test_failed_requests_and_batch_level_errors(tmp_path, workspace):
    rows = [
        _output("a", None, status=500),
        {
            "id": "r2",
            "custom_id": "b",
            "response": None,
            "error": {"code": "batch_expired", "message": "expired"},
        },
    ]
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "out.jsonl", rows)])
    got = {r["source_id"]: r for r in records(workspace).iter_rows(named=True)}
    assert got["a"]["error"] == "server error" and got["a"]["status_code"] == 500
    assert got["b"]["error"] == "expired"


def test_output_without_input_warns(tmp_path, workspace):
    result = ingest_logs(
        Project(workspace), [write_jsonl(tmp_path / "out.jsonl", [_output("a", "x")])]
    )
    assert result.ingested == 1
    assert any("no Batch input file" in w for w in result.warnings)


def test_input_file_alone_is_a_clear_error(tmp_path, workspace):
    path = write_jsonl(tmp_path / "in.jsonl", [_input("a", "first")])
    with pytest.raises(InputError, match=r"input file.*output file") as raised:
        ingest_logs(Project(workspace), [path])
    assert str(raised.value) == (
        f"{path} is an OpenAI Batch API input file (requests only); give its output file in the "
        "same command: curate ingest OUTPUT.jsonl INPUT.jsonl"
    )
    assert not workspace.has_table("records")


def test_references_key_on_custom_id(tmp_path, workspace):
    refs = tmp_path / "refs.csv"
    refs.write_text("id,reference\na,billing\nzzz,other\n")
    out = write_jsonl(tmp_path / "out.jsonl", [_output("a", "billing"), _output("b", "x")])
    result = ingest_logs(Project(workspace), [out], references=refs)
    got = dict(records(workspace).select("source_id", "reference").rows())
    assert got == {"a": "billing", "b": None}
    assert result.references == {"given": 2, "matched": 1, "unmatched": 1, "corrected": 0}


def test_responses_endpoint_batches(tmp_path, workspace):
    request = {
        "custom_id": "a",
        "method": "POST",
        "url": "/v1/responses",
        "body": {"model": "gpt-4.1-nano", "input": "My card was charged twice"},
    }
    body = {
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "model": "gpt-4.1-nano",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "billing"}]}],
        "usage": {"input_tokens": 9, "output_tokens": 1},
    }
    output = {
        "id": "b1",
        "custom_id": "a",
        "response": {"status_code": 200, "body": body},
        "error": None,
    }
    ingest_logs(
        Project(workspace),
        [
            write_jsonl(tmp_path / "out.jsonl", [output]),
            write_jsonl(tmp_path / "in.jsonl", [request]),
        ],
    )
    row = records(workspace).row(0, named=True)
    assert (row["source_id"], row["output"], row["prompt_tokens"]) == ("a", "billing", 9)
    assert row["messages"][0]["content"] == "My card was charged twice"


def test_a_side_input_is_declared_by_its_format():
    """Ingest asks a format whether it completes another's records; it tests no class."""
    from curate.ingest.formats import available
    from curate.ingest.formats.base import LogFormat

    sides = {f.name: f.completes for f in available().values() if f.completes}
    assert sides == {"openai_batch_input": "openai_batch"}
    assert all(f.side_input for f in available().values() if f.completes)
    assert LogFormat.completes is None
    with pytest.raises(NotImplementedError):
        LogFormat().read_side(None, None)
