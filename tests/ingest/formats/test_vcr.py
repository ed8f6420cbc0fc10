from __future__ import annotations

from curate.core.project import Project
from curate.ingest.stage import ingest_logs
from tests.conftest import records


def _ingest(workspace, path):
    result = ingest_logs(Project(workspace), [path])
    assert result.sources[-1].format == "vcr"
    rows = records(workspace)
    return result, rows.filter(rows["source"] == path.name)


def test_conformance_refusal_filter_length_tools_errors(shared_data, workspace):
    base = shared_data / "llm_api_cassettes"
    _, refused = _ingest(
        workspace, base / "openllmetry/test_chat_parse_test_parsed_refused_completion.yaml"
    )
    assert refused.height == 3
    assert set(refused["refusal"]) == {"I'm very sorry, but I can't assist with that request."}
    assert refused["output"].null_count() == 3

    _, filtered = _ingest(
        workspace, base / "openllmetry/test_azure_test_chat_content_filtering.yaml"
    )
    assert filtered["finish_reason"].to_list()[0] == "content_filter"
    assert filtered["output"][0] is None

    _, prompt_filtered = _ingest(
        workspace, base / "openllmetry/test_azure_test_prompt_content_filtering.yaml"
    )
    first = prompt_filtered.row(0, named=True)
    assert first["status_code"] == 200 and first["error"].startswith("The response was filtered")

    _, length = _ingest(workspace, base / "openllmetry/test_completions_test_completion.yaml")
    assert set(length["finish_reason"]) == {"length"} and length["output"].null_count() == 0

    _, streamed = _ingest(
        workspace, base / "openllmetry/test_completions_test_async_completion_streaming.yaml"
    )
    assert (
        set(streamed["finish_reason"]) == {"length"}
        and streamed["output"].str.len_chars().min() > 0
    )

    _, vllm = _ingest(
        workspace, base / "openllmetry/langchain_test_llms_test_trace_propagation[VLLMOpenAI].yaml"
    )
    assert vllm["finish_reason"][0] == "length" and vllm["model"][0] == "facebook/opt-125m"
    assert vllm["output"][0].startswith("\n\nTelemetry")

    _, tools = _ingest(
        workspace,
        base / "otel_contrib/openai-v2__test_chat_completion_tool_calls_with_content.yaml",
    )
    calls = tools.sort("source_line")["tool_calls"][0]
    assert [c["name"] for c in calls] == ["get_current_weather", "get_current_weather"]
    assert tools.sort("source_line")["messages"][1].len() == 5  # the tool-result turn

    _, streamed_tools = _ingest(
        workspace, base / "openllmetry/traces_cassettes_test_chat_test_chat_tools_streaming.yaml"
    )
    call = streamed_tools["tool_calls"][0][0]
    assert call["name"] == "get_current_weather" and call["arguments"].startswith("{")

    _, legacy = _ingest(
        workspace,
        base / "openllmetry/traces_cassettes_test_functions_test_open_ai_function_calls.yaml",
    )
    assert set(legacy["finish_reason"]) == {"function_call"}
    assert legacy["tool_calls"].list.len().min() == 1

    _, missing = _ingest(workspace, base / "otel_contrib/openai-v2__test_chat_completion_404.yaml")
    row = missing.row(0, named=True)
    assert row["status_code"] == 404 and "does not exist" in row["error"]

    _, choices = _ingest(
        workspace, base / "otel_contrib/openai-v2__test_chat_completion_multiple_choices.yaml"
    )
    assert choices.height == 2 and sorted(choices["source_id"])[1].endswith("#1")

    _, vertex = _ingest(
        workspace, base / "otel_contrib/vertexai__test_generate_content_extra_params.yaml"
    )
    assert vertex["finish_reason"][0] == "length" and vertex["model"][0] == "gemini-2.5-pro"

    _, vertex_bad = _ingest(
        workspace, base / "otel_contrib/vertexai__test_generate_content_invalid_temperature.yaml"
    )
    assert vertex_bad["status_code"][0] == 400 and vertex_bad["error"][0]

    result, _ = _ingest(
        workspace,
        base / "openllmetry/traces_cassettes_test_embeddings_test_azure_openai_embeddings.yaml",
    )
    assert result.ingested == 0 and result.skipped == {
        "embeddings calls (not chat or text completions)": 4
    }
