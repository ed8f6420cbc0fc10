"""Export formats: how one training example is written (`curate export --format NAME`).

Each is an Exporter registered under the entry point group `curate.exporters` (see
curate.core.plugins); a package adds its own the same way. An exporter gets the conversation the
model saw (system prompt included, unless --system-prompt replaced it) and the corrected answer
(an Example), and returns the JSON objects it becomes: lines of train.jsonl / validation.jsonl.

A preference format (`pairs = True`) gets the production output that broke as well, and returns
the lines of one record: one pair (DPO), or one line per side (KTO's unpaired labels). Tool calls
are kept: the assistant turns of the input that called tools, the `tool` turns that answered
them, the request's `tools`, and an answer that is itself a tool call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar

from curate.core.errors import ConfigError
from curate.core.plugins import did_you_mean, load_group

GROUP = "curate.exporters"

Messages = list[dict[str, Any]]


@dataclass
class Example:
    """One record's training example, as every format reads it. Messages are in OpenAI's
    shape: an assistant turn may carry `tool_calls` ({id, type, function: {name, arguments}},
    the arguments as JSON text) answered by `tool` turns naming their `tool_call_id`."""

    messages: Messages  # the conversation the model saw
    answer: dict[str, Any]  # the assistant turn to train: {role, content} or {role, tool_calls}
    tools: list[dict[str, Any]] | None = None  # the request's tools, OpenAI-shaped
    rejected: dict[str, Any] | None = None  # preference formats: the output that broke
    task: str | None = None  # the task's name
    label: str | None = None  # the resolved label, for a task with labels


class Exporter:
    name: ClassVar[str]
    description: ClassVar[str]
    # a preference format: each example is the person's correction against the production
    # output that broke (Example.rejected), not the correction alone
    pairs: ClassVar[bool] = False
    # a chat format: a conversation a chat template renders (--check-template checks it)
    chat: ClassVar[bool] = True

    def render(self, example: Example) -> list[dict[str, Any]]:
        """The lines of train.jsonl / validation.jsonl the example becomes."""
        raise NotImplementedError

    def extra_files(self, tasks: dict[str, Any], detectors: dict[str, Any]) -> dict[str, str]:
        """Files the format writes beside the data ({name: text}), given the export's tasks
        and the [detectors] settings; none by default."""
        return {}


def text_of(message: dict[str, Any]) -> str:
    """A turn as text, for formats that have no tool calls: its content, else its calls as
    JSON ([{name, arguments}])."""
    if message.get("content"):
        return message["content"]
    calls = [
        {"name": c["function"]["name"], "arguments": _decoded(c["function"]["arguments"])}
        for c in message.get("tool_calls") or []
    ]
    return json.dumps(calls, ensure_ascii=False) if calls else ""


def _decoded(arguments: Any) -> Any:
    try:
        return json.loads(arguments) if isinstance(arguments, str) else arguments
    except json.JSONDecodeError:
        return arguments


def _with_tools(line: dict[str, Any], tools: list[dict[str, Any]] | None) -> dict[str, Any]:
    return line | {"tools": tools} if tools else line


def hf_message(message: dict[str, Any]) -> dict[str, Any]:
    """A turn as Hugging Face chat templates read it: tool call arguments as objects."""
    if not message.get("tool_calls"):
        return message
    calls = [
        c | {"function": c["function"] | {"arguments": _decoded(c["function"]["arguments"])}}
        for c in message["tool_calls"]
    ]
    return message | {"tool_calls": calls}


class OpenAIChat(Exporter):
    name: ClassVar[str] = "openai"
    description: ClassVar[str] = (
        "OpenAI chat fine-tuning: {messages: [..., assistant], tools} (tool calls kept)"
    )

    def render(self, example: Example) -> list[dict[str, Any]]:
        return [_with_tools({"messages": [*example.messages, example.answer]}, example.tools)]


class PromptCompletion(Exporter):
    name: ClassVar[str] = "prompt-completion"
    description: ClassVar[str] = "{prompt, completion}: 'role: text' turns, then 'assistant:'"
    chat: ClassVar[bool] = False

    def render(self, example: Example) -> list[dict[str, Any]]:
        turns = (f"{m['role']}: {text_of(m)}" for m in example.messages)
        prompt = "\n\n".join(turns) + "\n\nassistant:"
        return [{"prompt": prompt, "completion": " " + text_of(example.answer)}]


# ShareGPT as LLaMA-Factory reads it: tool calls are `function_call` turns (a JSON object, or a
# list of them, of name and arguments), tool results `observation` turns, tools a JSON string
SHAREGPT_ROLES = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation"}


def sharegpt_turn(message: dict[str, Any]) -> dict[str, str]:
    if message["role"] == "assistant" and message.get("tool_calls"):
        calls = [
            {"name": c["function"]["name"], "arguments": _decoded(c["function"]["arguments"])}
            for c in message["tool_calls"]
        ]
        value = calls[0] if len(calls) == 1 else calls
        return {"from": "function_call", "value": json.dumps(value, ensure_ascii=False)}
    role = message["role"]
    return {"from": SHAREGPT_ROLES.get(role, role), "value": message.get("content") or ""}


def sharegpt_turns(messages: Messages) -> list[dict[str, str]]:
    """The turns, with consecutive turns from one side joined (two user turns, the results of
    parallel calls): LLaMA-Factory skips a conversation whose turns do not alternate."""
    turns: list[dict[str, str]] = []
    for message in messages:
        turn = sharegpt_turn(message)
        if turns and turns[-1]["from"] == turn["from"] and turn["from"] in ("human", "observation"):
            turns[-1] = turn | {"value": turns[-1]["value"] + "\n\n" + turn["value"]}
            continue
        turns.append(turn)
    return turns


def _sharegpt_line(example: Example, turns: list[dict[str, str]], **columns) -> dict[str, Any]:
    line: dict[str, Any] = {"conversations": turns, **columns}
    if example.tools:
        line["tools"] = json.dumps([t["function"] for t in example.tools], ensure_ascii=False)
    return line


class ShareGPT(Exporter):
    name: ClassVar[str] = "sharegpt"
    description: ClassVar[str] = (
        "{conversations: [{from, value}, ...], tools} (human / gpt / system; function_call / "
        "observation for tool calls, as LLaMA-Factory reads them)"
    )

    def render(self, example: Example) -> list[dict[str, Any]]:
        turns = sharegpt_turns([*example.messages, example.answer])
        return [_sharegpt_line(example, turns)]


class ShareGPTPreference(Exporter):
    name: ClassVar[str] = "sharegpt-dpo"
    description: ClassVar[str] = (
        "preference pairs as LLaMA-Factory reads them: {conversations, chosen: {from, value}, "
        "rejected: {from, value}, tools}"
    )
    pairs: ClassVar[bool] = True

    def render(self, example: Example) -> list[dict[str, Any]]:
        assert example.rejected is not None
        chosen, rejected = sharegpt_turn(example.answer), sharegpt_turn(example.rejected)
        turns = sharegpt_turns(example.messages)
        return [_sharegpt_line(example, turns, chosen=chosen, rejected=rejected)]


class ShareGPTUnpaired(Exporter):
    name: ClassVar[str] = "sharegpt-kto"
    description: ClassVar[str] = (
        "unpaired preference as LLaMA-Factory reads it: {conversations: [..., answer], kto_tag}, "
        "the correction tagged true and the output that broke false"
    )
    pairs: ClassVar[bool] = True

    def render(self, example: Example) -> list[dict[str, Any]]:
        assert example.rejected is not None
        sides = ((example.answer, True), (example.rejected, False))
        return [
            _sharegpt_line(example, sharegpt_turns([*example.messages, m]), kto_tag=tag)
            for m, tag in sides
        ]


class Alpaca(Exporter):
    name: ClassVar[str] = "alpaca"
    description: ClassVar[str] = "{instruction: the system prompt, input: the user turns, output}"
    chat: ClassVar[bool] = False

    def render(self, example: Example) -> list[dict[str, Any]]:
        messages = example.messages
        system = "\n".join(m["content"] for m in messages if m["role"] == "system" and m["content"])
        rest = [m for m in messages if m["role"] != "system"]
        # the last user turn as it is, after the turns before it as "role: text"; where the
        # conversation ends otherwise (a tool's result), every turn as "role: text"
        ends_with_user = bool(rest) and rest[-1]["role"] == "user"
        before = rest[:-1] if ends_with_user else rest
        context = "\n\n".join(f"{m['role']}: {text_of(m)}" for m in before)
        last_user = text_of(rest[-1]) if ends_with_user else ""
        return [
            {
                "instruction": system,
                "input": (context + "\n\n" + last_user).strip(),
                "output": text_of(example.answer),
            }
        ]


class TRLPreference(Exporter):
    name: ClassVar[str] = "dpo"
    description: ClassVar[str] = (
        "preference pairs, TRL conversational: {prompt: [...], chosen: [assistant], rejected: "
        "[assistant], tools} (the correction against the output that broke)"
    )
    pairs: ClassVar[bool] = True

    def render(self, example: Example) -> list[dict[str, Any]]:
        assert example.rejected is not None
        line = {
            "prompt": [hf_message(m) for m in example.messages],
            "chosen": [hf_message(example.answer)],
            "rejected": [hf_message(example.rejected)],
        }
        return [_with_tools(line, example.tools)]


class OpenAIPreference(Exporter):
    name: ClassVar[str] = "openai-preference"
    description: ClassVar[str] = (
        "OpenAI preference fine-tuning (DPO): {input: {messages, tools}, preferred_output, "
        "non_preferred_output}"
    )
    pairs: ClassVar[bool] = True

    def render(self, example: Example) -> list[dict[str, Any]]:
        assert example.rejected is not None
        return [
            {
                "input": _with_tools({"messages": example.messages}, example.tools),
                "preferred_output": [example.answer],
                "non_preferred_output": [example.rejected],
            }
        ]


class TRLUnpaired(Exporter):
    name: ClassVar[str] = "kto"
    description: ClassVar[str] = (
        "unpaired preference, TRL conversational: {prompt, completion: [assistant], label}, "
        "the correction labelled true and the output that broke false"
    )
    pairs: ClassVar[bool] = True

    def render(self, example: Example) -> list[dict[str, Any]]:
        assert example.rejected is not None
        prompt = [hf_message(m) for m in example.messages]
        sides = ((example.answer, True), (example.rejected, False))
        return [
            _with_tools(
                {"prompt": prompt, "completion": [hf_message(m)], "label": label}, example.tools
            )
            for m, label in sides
        ]


class GRPOPrompts(Exporter):
    name: ClassVar[str] = "grpo"
    description: ClassVar[str] = (
        "prompt-only rows for TRL's GRPOTrainer: {prompt: [...], task, answer} (the label, or "
        "the corrected output), and rewards.py: curate's detectors as reward functions"
    )

    def render(self, example: Example) -> list[dict[str, Any]]:
        answer = example.label if example.label is not None else text_of(example.answer)
        line = {"prompt": [hf_message(m) for m in example.messages], "task": example.task}
        return [_with_tools(line | {"answer": answer}, example.tools)]

    def extra_files(self, tasks: dict[str, Any], detectors: dict[str, Any]) -> dict[str, str]:
        from curate.export.rewards_source import rewards_source

        return {"rewards.py": rewards_source(tasks, detectors)}


@cache
def available() -> dict[str, Exporter]:
    """Every registered export format by name, curate's own first."""
    return {name: cls() for name, cls in load_group(GROUP, Exporter, "export format").items()}


def get_exporter(name: str) -> Exporter:
    """The export format called `name`, or a ConfigError naming the nearest and the others."""
    exporters = available()
    if name in exporters:
        return exporters[name]
    hint = did_you_mean(name, list(exporters))
    raise ConfigError(f"unknown format {name!r}; {hint}use one of {', '.join(exporters)}")


__all__ = ["GROUP", "Example", "Exporter", "available", "get_exporter", "hf_message", "text_of"]
