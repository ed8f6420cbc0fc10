from __future__ import annotations

import json

from curate.core.project import Project
from curate.ingest.stage import ingest_logs
from tests.conftest import records


def _trace():
    return {
        "trace": {
            "id": "tr1",
            "projectId": "p",
            "name": "matcher",
            "timestamp": "2026-10-01T10:00:00.000Z",
            "userId": "u1",
            "scores": [
                {"name": "hallucination", "value": 0.9, "observationId": None, "comment": "made up"},
                {"name": "user-feedback", "value": 0, "observationId": None, "comment": "wrong"},
            ],
            "corrections": [],
            "observations": [],
        },
        "observations": [
            {"id": "span1", "traceId": "tr1", "type": "SPAN", "name": "agent"},
            {
                "id": "gen1",
                "traceId": "tr1",
                "type": "GENERATION",
                "name": "first",
                "startTime": "2026-10-01T10:00:00.100Z",
                "model": "gpt-4o",
                "input": json.dumps([{"role": "system", "content": "Match."}, {"role": "user", "content": "A vs B"}]),
                "output": json.dumps({"role": "assistant", "content": "match"}),
                "usageDetails": {"input": 11, "output": 1, "total": 12},
                "costDetails": {"total": 0.0001},
                "latency": 0.42,
                "level": "DEFAULT",
                "promptName": "matcher",
                "promptVersion": 3,
                "metadata": "{}",
            },
            {
                "id": "gen2",
                "traceId": "tr1",
                "type": "GENERATION",
                "startTime": "2026-10-01T10:00:01.000Z",
                "model": "gpt-4o",
                "input": [{"role": "user", "content": "again"}],
                "output": None,
                "level": "ERROR",
                "statusMessage": "upstream timeout",
            },
        ],
    }  # fmt: skip


def test_generations_become_records_and_trace_scores_go_to_the_last(tmp_path, workspace):
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(_trace()))
    result = ingest_logs(Project(workspace), [path])
    assert result.ingested == 2
    assert result.skipped == {"SPAN observations (only GENERATION are model calls)": 1}
    got = {r["source_id"]: r for r in records(workspace).iter_rows(named=True)}
    first, last = got["gen1"], got["gen2"]
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert first["output"] == "match" and first["prompt_version"] == "matcher@3"
    assert (first["prompt_tokens"], first["completion_tokens"], first["cost"]) == (11, 1, 0.0001)
    assert first["latency_ms"] == 420 and first["feedback_score"] is None
    assert last["error"] == "upstream timeout"
    assert last["feedback_score"] == 0 and last["feedback_comment"] == "wrong"
    assert json.loads(last["metadata"])["scores"] == {"hallucination": 0.9, "user-feedback": 0}


EXPECTED = {  # file -> (records, models, skipped observations)
    "claude-agent-2025-12-22": (4, {"claude-sonnet-4-5-20250929"}, 3),
    "crewai-2025-07-11": (1, {"gpt-4o-mini"}, 5),
    "google-adk-2025-08-28": (2, {"gemini-2.0-flash"}, 3),
    "langgraph-python-2025-08-22": (2, {"gpt-4o-2024-08-06"}, 7),
    "openai-agents-2025-09-30": (2, {"gpt-4.1-2025-04-14"}, 3),
    "pydantic-ai-tools-2025-06-06": (1, {"gpt-4o"}, 2),
    "vercel-aisdk-2025-11-17": (2, {"gpt-5"}, 1),
}


def test_conformance_real_langfuse_exports(shared_data, workspace):
    folder = shared_data / "langfuse_trace_exports"
    for stem, (count, _, skipped) in EXPECTED.items():
        result = ingest_logs(Project(workspace), [folder / f"{stem}.trace.json"])
        assert result.sources[-1].format == "langfuse"
        assert (result.ingested, sum(result.skipped.values())) == (count, skipped), stem
    rows = records(workspace)
    by_file = {stem: rows.filter(rows["source"] == f"{stem}.trace.json") for stem in EXPECTED}
    for stem, frame in by_file.items():
        assert set(frame["model"]) == EXPECTED[stem][1], stem
        assert frame["prompt_tokens"].null_count() == 0, stem
    # what Langfuse's own ChatML rendering shows, read from the raw shapes of each framework
    got = {r["source_id"]: r for r in rows.iter_rows(named=True)}
    oracle = json.loads((folder / "langgraph-python-2025-08-22.chatml.json").read_text())
    expected_call = oracle["4f6535aaebcda355"]["output"]["data"][0]["tool_calls"][0]
    call = got["4f6535aaebcda355"]["tool_calls"][0]
    assert (call["name"], call["arguments"]) == (expected_call["name"], expected_call["arguments"])
    assert got["5cb389a3bdd21a6e"]["output"].startswith("Langfuse is a tool")  # pydantic-ai
    assert got["bded677884f031ce"]["output"].startswith("Hello Langfuse")  # google-adk parts
    assert got["f6e4c65297e40c96"]["tool_calls"][0]["name"] == "say_hello"
    assert got["98870087af69bf06"]["tool_calls"][0]["name"] == "get_weather"  # Responses API
    assert got["90d94774e8e3724d"]["output"].startswith("The weather in Tokyo is currently")
    assert got["91a17a2274bfd23f"]["tool_calls"][0]["name"] == "getWeather"  # Vercel AI SDK
    assert got["2cc13e77781787fd"]["tool_calls"][0]["arguments"] == '{"city":"Berlin"}'
    feedback = got["371496f71d82baed"]  # claude-agent: correctness 0 is the trace's verdict
    assert feedback["feedback_score"] == 0 and feedback["feedback_comment"]


def test_pretty_printed_export_larger_than_the_sniffed_head(tmp_path, workspace):
    doc = _trace()
    doc["observations"][1]["metadata"] = json.dumps({"padding": "x" * 1_500_000})
    path = tmp_path / "big.trace.json"
    path.write_text(json.dumps(doc, indent=2))
    result = ingest_logs(Project(workspace), [path])
    assert result.sources[0].format == "langfuse" and result.ingested == 2
