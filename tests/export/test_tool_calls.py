"""Tool calls in training data: the input's tool turns, the request's tools, and an answer that
is itself a tool call, each format in its trainer's documented shape (OpenAI `tools` and
`tool_calls`; TRL's arguments as objects; ShareGPT's function_call / observation turns and
`tools` string, as LLaMA-Factory reads them). From logs to export through the command line,
with people's answers given in the in-memory queue."""

from __future__ import annotations

import json

import pytest

from curate.cli import main
from tests.conftest import write_jsonl

PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": PARAMETERS}}
CONFIG = """\
[tasks.weather]
kind = "generation"

[queue]
backend = "memory"
"""
CITIES = ["Oslo", "Rome", "Lima", "Cairo", "Hanoi", "Quito", "Accra", "Sofia", "Riga", "Bern"]


def _line(i: int, city: str, *, step: int) -> dict:
    """Step 1: the model calls the tool, wrongly (an argument the tool has not). Step 2: the
    model has the tool's answer in its input, and answers; the user gives it a thumbs down."""
    messages = [
        {"role": "system", "content": "You answer weather questions with the get_weather tool."},
        {"role": "user", "content": f"What is the weather in {city}?"},
    ]
    response = {
        "id": f"chatcmpl-{step}-{i}",
        "object": "chat.completion",
        "created": 1_790_000_000 + i,
    }
    response["model"] = "gpt-4o-mini"
    if step == 1:
        call = {"id": f"call_{i}", "type": "function", "function": {"name": "get_weather"}}
        call["function"]["arguments"] = json.dumps({"town": city})
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish, feedback = "tool_calls", None
    else:
        call = {"id": f"call_{i}", "type": "function", "function": {"name": "get_weather"}}
        call["function"]["arguments"] = json.dumps({"city": city})
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"call_{i}", "content": f"{10 + i}C, dry"},
        ]
        message = {"role": "assistant", "content": f"It is {20 + i}C."}  # not what the tool said
        finish, feedback = "stop", {"score": 0}
    response["choices"] = [{"index": 0, "message": message, "finish_reason": finish}]
    line = {"request": {"model": "gpt-4o-mini", "messages": messages, "tools": [TOOL]}}
    line["response"] = response
    if feedback:
        line["feedback"] = feedback
    return line


def _answers(dataset, record) -> dict[str, str]:
    """What a person corrects: the call with the right argument, or the answer the tool gave."""
    output = record["suggestions"]["corrected_output"]["value"]
    if output.startswith("["):  # the model's tool call, shown as its JSON
        (call,) = json.loads(output)
        assert call == {"name": "get_weather", "arguments": {"town": call["arguments"]["town"]}}
        fixed = [{"name": "get_weather", "arguments": {"city": call["arguments"]["town"]}}]
        return {"is_failure": "yes", "corrected_output": json.dumps(fixed)}
    # the conversation people read shows the model's earlier call
    assert '"arguments":{"city":' in record["fields"]["conversation"]
    degrees = record["fields"]["conversation"].split("C, dry")[0].rsplit("\n", 1)[-1].strip()
    return {"is_failure": "yes", "corrected_output": f"It is {degrees}C and dry."}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """An agent's logs ingested, detected, balanced, pushed, answered, pulled; then exported in
    each format: {format: (lines, manifest)}."""
    from click.testing import CliRunner

    from curate.core.config import load_config
    from curate.queue import memory

    root = tmp_path_factory.mktemp("tools")
    (root / "curate.toml").write_text(CONFIG)
    lines = [_line(i, c, step=s) for s in (1, 2) for i, c in enumerate(CITIES)]
    logs = write_jsonl(root / "agent.jsonl", lines)
    ws = ["--workspace", str(root / ".curate"), "--config", str(root / "curate.toml")]
    runner = CliRunner()

    def cli(*args):
        result = runner.invoke(main, [*ws, *args])
        assert result.exit_code == 0, result.output
        return result

    cli("ingest", str(logs), "--task", "weather")
    cli("detect")
    cli("balance", "--target", "20")
    cli("queue", "push")
    memory.connect(load_config(root / "curate.toml")).answer_all(_answers)
    cli("queue", "pull")
    for fmt in ("sharegpt", "sharegpt-dpo", "sharegpt-kto"):
        name = f"lf-{fmt}"
        cli("export", "--name", name, "--format", fmt, "--for", "llama-factory", "--allow-small")
    from curate.export.exporters import available

    out = {}
    for fmt in available():
        cli("export", "--name", fmt, "--format", fmt, "--allow-small", "--validation-fraction", "0")
        folder = root / ".curate" / "exports" / fmt
        rows = [json.loads(x) for x in (folder / "train.jsonl").read_text().splitlines()]
        out[fmt] = (rows, json.loads((folder / "manifest.json").read_text()))
    out["_root"] = root / ".curate" / "exports"
    return out


def _calls(message) -> list[tuple[str, dict]]:
    return [
        (c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in message.get("tool_calls") or []
    ]


def test_openai_keeps_the_tools_the_tool_turns_and_a_tool_call_answer(exported):
    rows, manifest = exported["openai"]
    assert len(rows) == manifest["counts"]["written"]["train"] and not manifest["excluded"]
    answers_by_kind = {"call": 0, "text": 0}
    for row in rows:
        assert row["tools"] == [TOOL]
        *turns, answer = row["messages"]
        assert answer["role"] == "assistant"
        city = turns[1]["content"].removeprefix("What is the weather in ").rstrip("?")
        if answer.get("tool_calls"):  # step 1: the corrected call
            answers_by_kind["call"] += 1
            assert "content" not in answer and answer["tool_calls"][0]["type"] == "function"
            assert _calls(answer) == [("get_weather", {"city": city})]
            assert [t["role"] for t in turns] == ["system", "user"]
        else:  # step 2: the conversation the model saw, its call and the tool's answer in it
            answers_by_kind["text"] += 1
            assert [t["role"] for t in turns] == ["system", "user", "assistant", "tool"]
            assert _calls(turns[2]) == [("get_weather", {"city": city})]
            assert turns[3]["tool_call_id"] == turns[2]["tool_calls"][0]["id"]
            assert answer["content"] == f"It is {turns[3]['content'].split('C')[0]}C and dry."
    # balance collapses some near-duplicate questions; both steps are in
    assert min(answers_by_kind.values()) >= 5


def test_sharegpt_writes_function_call_and_observation_turns(exported):
    rows, _ = exported["sharegpt"]
    for row in rows:
        assert json.loads(row["tools"]) == [TOOL["function"]]
        kinds = [t["from"] for t in row["conversations"]]
        assert kinds in (
            ["system", "human", "function_call"],
            ["system", "human", "function_call", "observation", "gpt"],
        )
        call = json.loads(row["conversations"][2]["value"])
        assert set(call) == {"name", "arguments"} and set(call["arguments"]) == {"city"}


def test_dpo_pairs_the_corrected_call_against_the_broken_one(exported):
    rows, manifest = exported["dpo"]
    calls = [r for r in rows if r["chosen"][0].get("tool_calls")]
    assert len(calls) >= 5 and manifest["pairs"]["records"] == len(rows)
    for row in calls:
        assert row["tools"] == [TOOL]
        (chosen,), (rejected,) = row["chosen"], row["rejected"]
        # TRL hands messages to the tokenizer's chat template: arguments as objects
        (good,), (bad,) = chosen["tool_calls"], rejected["tool_calls"]
        assert set(good["function"]["arguments"]) == {"city"}
        assert set(bad["function"]["arguments"]) == {"town"}
        assert good["function"]["arguments"]["city"] == bad["function"]["arguments"]["town"]


def test_openai_preference_and_kto_carry_the_tools(exported):
    rows, _ = exported["openai-preference"]
    assert all(r["input"]["tools"] == [TOOL] for r in rows)
    broken = [
        r["non_preferred_output"][0] for r in rows if r["preferred_output"][0].get("tool_calls")
    ]
    assert len(broken) >= 5 and all(_calls(m)[0][1].keys() == {"town"} for m in broken)
    rows, manifest = exported["kto"]
    n = manifest["pairs"]["records"]
    assert len(rows) == 2 * n and sorted(r["label"] for r in rows) == [False] * n + [True] * n


def test_a_format_without_tools_writes_the_call_as_its_json(exported):
    rows, _ = exported["alpaca"]
    with_tool = [r for r in rows if "tool: " in r["input"]]
    assert with_tool  # the tool's answer is in the input, the question once
    assert all(r["input"].count("What is the weather") == 1 for r in rows)
    calls = [json.loads(r["output"]) for r in rows if r["output"].startswith("[")]
    assert len(calls) >= 5
    assert all(
        c == [{"name": "get_weather", "arguments": {"city": c[0]["arguments"]["city"]}}]
        for c in calls
    )


def test_every_format_is_its_trainers_documented_shape_and_loads(exported):
    from tests.export.trainer_schemas import check_export

    formats = [k for k in exported if k != "_root"]
    assert {"openai", "sharegpt", "dpo", "kto", "grpo", "sharegpt-dpo"} <= set(formats)
    for fmt in formats:
        rows, _ = exported[fmt]
        check_export(fmt, rows, exported["_root"] / fmt / "train.jsonl")


@pytest.mark.parametrize("fmt", ["sharegpt", "sharegpt-dpo", "sharegpt-kto"])
def test_llama_factory_reads_every_tool_using_conversation(exported, fmt):
    """Its rules: function_call at answer positions, observation at input ones, tools a JSON
    string; a line that breaks them the trainer would skip without a word."""
    from tests.export.test_trainers import check_llama_factory

    folder = exported["_root"] / f"lf-{fmt}"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert check_llama_factory(folder) == sum(manifest["counts"]["written"].values()) > 0
    text = (folder / "train.jsonl").read_text() + (folder / "validation.jsonl").read_text()
    assert '"from": "function_call"' in text and '"tools": ' in text


def test_a_corrected_call_is_checked_against_its_tool():
    """A correction that is a call must meet the tool's parameter schema (the rule of the
    tool_call_invalid detector); one naming no declared tool is an answer in text."""
    from curate.core.tasks import Task
    from curate.export.checks import Candidate, invalid_answer

    record = {"record_id": "r", "task": "weather", "output": None, "tools": json.dumps([TOOL])}
    task = Task(name="weather", kind="generation")

    def check(correction):
        candidate = Candidate(record, task, {"corrected_output": json.dumps(correction)})
        return invalid_answer(candidate, None), candidate

    reason, _ = check([{"name": "get_weather", "arguments": {"town": "Oslo"}}])
    assert reason.startswith("invalid: the corrected tool call breaks its tool: get_weather:")
    reason, good = check([{"name": "get_weather", "arguments": {"city": "Oslo"}}])
    assert reason is None and good.answer_calls[0]["arguments"] == '{"city": "Oslo"}'
    reason, text = check([{"name": "get_time", "arguments": {}}])
    assert reason is None and text.answer_calls is None  # not a declared tool: text
