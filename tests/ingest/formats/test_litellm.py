from __future__ import annotations

import json

from curate.core.project import Project
from curate.ingest.stage import ingest_logs
from tests.conftest import records, write_jsonl


def _payload(i, status="success", **extra):
    payload = {
        "id": f"req-{i}",
        "trace_id": "t",
        "call_type": "acompletion",
        "stream": False,
        "response_cost": 0.00012,
        "status": status,
        "prompt_tokens": 30,
        "completion_tokens": 4,
        "startTime": 1790000000.0,
        "endTime": 1790000000.5,
        "model": "gpt-4o-mini",
        "model_group": "matcher",
        "metadata": {"user_api_key_alias": "team-a"},
        "messages": [{"role": "user", "content": "same person?"}],
        "response": {
            "id": f"chatcmpl-{i}",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "yes"},
                    "finish_reason": "stop",
                }
            ],
        },
        "model_parameters": {"temperature": 0},
        "hidden_params": {},
        "error_str": None,
    }
    payload.update(extra)
    return payload


def test_success_failure_and_skipped_calls(tmp_path, workspace):
    rows = [
        _payload(1),
        _payload(2, status="failure", response=None, error_str="litellm.RateLimitError: 429", error_information={"error_code": "429", "error_class": "RateLimitError"}),
        _payload(3, call_type="embedding"),
    ]  # fmt: skip
    result = ingest_logs(Project(workspace), [write_jsonl(tmp_path / "litellm.jsonl", rows)])
    assert result.ingested == 2
    assert result.skipped == {"embedding calls (not chat or text completions)": 1}
    got = {r["source_id"]: r for r in records(workspace).iter_rows(named=True)}
    ok, failed = got["req-1"], got["req-2"]
    assert ok["source_format"] == "litellm" and ok["output"] == "yes"
    assert ok["cost"] == 0.00012 and ok["latency_ms"] == 500 and ok["prompt_tokens"] == 30
    assert json.loads(ok["metadata"])["model_group"] == "matcher"
    assert failed["error"] == "litellm.RateLimitError: 429" and failed["status_code"] == 429
