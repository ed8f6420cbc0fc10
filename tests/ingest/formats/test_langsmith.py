from __future__ import annotations

import json

from curate.core.project import Project
from curate.ingest.stage import ingest_logs
from tests.conftest import records


def test_llm_runs_with_feedback(tmp_path, workspace):
    runs = [
        {
            "id": "run-1",
            "name": "ChatOpenAI",
            "run_type": "llm",
            "start_time": "2026-10-01T10:00:00.000000",
            "end_time": "2026-10-01T10:00:01.250000",
            "inputs": {
                "messages": [
                    [
                        {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "SystemMessage"], "kwargs": {"content": "Classify.", "type": "system"}},
                        {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "HumanMessage"], "kwargs": {"content": "My card was charged twice", "type": "human"}},
                    ]
                ]
            },
            "outputs": {
                "generations": [[{"text": "billing", "generation_info": {"finish_reason": "stop"}, "message": {"lc": 1, "type": "constructor", "id": ["langchain", "schema", "messages", "AIMessage"], "kwargs": {"content": "billing", "type": "ai"}}}]],
                "llm_output": {"token_usage": {"prompt_tokens": 12, "completion_tokens": 1}, "model_name": "gpt-4o-mini"},
            },
            "extra": {"invocation_params": {"model": "gpt-4o-mini"}, "metadata": {"ls_model_name": "gpt-4o-mini"}},
            "error": None,
            "feedback": [{"key": "user_score", "score": 0, "comment": "wrong topic", "correction": {"output": "technical"}}],
        },
        {"id": "run-0", "name": "chain", "run_type": "chain", "inputs": {}, "outputs": {}},
        {"run_id": "run-1", "key": "helpfulness", "score": 0.2},
    ]  # fmt: skip
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(runs))
    result = ingest_logs(Project(workspace), [path])
    assert result.ingested == 1
    assert result.skipped == {"chain runs (only llm runs are model calls)": 1}
    row = records(workspace).row(0, named=True)
    assert row["source_format"] == "langsmith" and row["source_id"] == "run-1"
    assert [m["role"] for m in row["messages"]] == ["system", "user"]
    assert row["output"] == "billing" and row["finish_reason"] == "stop"
    assert row["model"] == "gpt-4o-mini" and row["prompt_tokens"] == 12
    assert row["feedback_score"] == 0 and row["feedback_comment"] == "wrong topic"
    assert row["correction"] == "technical"
    assert row["latency_ms"] == 1250
    assert len(json.loads(row["metadata"])["feedback"]) == 2


def test_error_runs_and_openai_shaped_outputs(tmp_path, workspace):
    runs = [
        {"id": "r1", "run_type": "llm", "inputs": {"messages": [{"role": "user", "content": "hi"}]}, "outputs": None, "error": "RateLimitError('429')"},
        {"id": "r2", "run_type": "llm", "inputs": {"messages": [{"role": "user", "content": "hi"}]}, "outputs": {"choices": [{"message": {"role": "assistant", "content": "hello"}, "finish_reason": "length"}]}},
    ]  # fmt: skip
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in runs) + "\n")
    ingest_logs(Project(workspace), [path])
    got = {r["source_id"]: r for r in records(workspace).iter_rows(named=True)}
    assert got["r1"]["error"] == "RateLimitError('429')"
    assert got["r2"]["output"] == "hello" and got["r2"]["finish_reason"] == "length"
