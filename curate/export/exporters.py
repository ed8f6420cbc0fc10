"""Export formats: how one training example is written (`curate export --format NAME`).

Each is an Exporter registered under the entry point group `curate.exporters` (see
curate.core.plugins); a package adds its own the same way. An exporter gets the conversation the
model saw (system prompt included, unless --system-prompt replaced it) and the corrected answer,
and returns one JSON object: a line of train.jsonl / validation.jsonl.

A preference format (`pairs = True`) gets the production output that broke as well, and returns
the lines of one record: one pair (DPO), or one line per side (KTO's unpaired labels).
"""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from curate.core.errors import ConfigError
from curate.core.plugins import did_you_mean, load_group

GROUP = "curate.exporters"

Messages = list[dict[str, Any]]


class Exporter:
    name: ClassVar[str]
    description: ClassVar[str]
    # a preference format: each example is the person's correction against the production
    # output that broke (render_pair), not the correction alone (render)
    pairs: ClassVar[bool] = False

    def render(self, messages: Messages, answer: str) -> dict[str, Any]:
        raise NotImplementedError

    def render_pair(self, messages: Messages, chosen: str, rejected: str) -> list[dict[str, Any]]:
        raise NotImplementedError


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


class OpenAIChat(Exporter):
    name: ClassVar[str] = "openai"
    description: ClassVar[str] = "OpenAI chat fine-tuning: {messages: [..., assistant]}"

    def render(self, messages: Messages, answer: str) -> dict[str, Any]:
        return {"messages": [*messages, {"role": "assistant", "content": answer}]}


class PromptCompletion(Exporter):
    name: ClassVar[str] = "prompt-completion"
    description: ClassVar[str] = "{prompt, completion}: 'role: text' turns, then 'assistant:'"

    def render(self, messages: Messages, answer: str) -> dict[str, Any]:
        prompt = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"
        return {"prompt": prompt, "completion": " " + answer}


class ShareGPT(Exporter):
    name: ClassVar[str] = "sharegpt"
    description: ClassVar[str] = "{conversations: [{from, value}, ...]} (human / gpt / system)"

    def render(self, messages: Messages, answer: str) -> dict[str, Any]:
        who = {"system": "system", "user": "human", "assistant": "gpt", "tool": "tool"}
        turns = [{"from": who.get(m["role"], m["role"]), "value": m["content"]} for m in messages]
        return {"conversations": [*turns, {"from": "gpt", "value": answer}]}


class Alpaca(Exporter):
    name: ClassVar[str] = "alpaca"
    description: ClassVar[str] = "{instruction: the system prompt, input: the user turns, output}"

    def render(self, messages: Messages, answer: str) -> dict[str, Any]:
        system = "\n".join(m["content"] for m in messages if m["role"] == "system" and m["content"])
        rest = [m for m in messages if m["role"] != "system"]
        last_user = next((m["content"] for m in reversed(rest) if m["role"] == "user"), "")
        context = (
            "\n\n".join(f"{m['role']}: {m['content']}" for m in rest[:-1]) if len(rest) > 1 else ""
        )
        return {
            "instruction": system,
            "input": (context + "\n\n" + last_user).strip(),
            "output": answer,
        }


class TRLPreference(Exporter):
    name: ClassVar[str] = "dpo"
    description: ClassVar[str] = (
        "preference pairs, TRL conversational: {prompt: [...], chosen: [assistant], rejected: "
        "[assistant]} (the correction against the output that broke)"
    )
    pairs: ClassVar[bool] = True

    def render_pair(self, messages: Messages, chosen: str, rejected: str) -> list[dict[str, Any]]:
        pair = {"chosen": _assistant(chosen), "rejected": _assistant(rejected)}
        return [{"prompt": messages} | pair]


class OpenAIPreference(Exporter):
    name: ClassVar[str] = "openai-preference"
    description: ClassVar[str] = (
        "OpenAI preference fine-tuning (DPO): {input: {messages}, preferred_output, "
        "non_preferred_output}"
    )
    pairs: ClassVar[bool] = True

    def render_pair(self, messages: Messages, chosen: str, rejected: str) -> list[dict[str, Any]]:
        return [
            {
                "input": {"messages": messages},
                "preferred_output": _assistant(chosen),
                "non_preferred_output": _assistant(rejected),
            }
        ]


class TRLUnpaired(Exporter):
    name: ClassVar[str] = "kto"
    description: ClassVar[str] = (
        "unpaired preference, TRL conversational: {prompt, completion: [assistant], label}, "
        "the correction labelled true and the output that broke false"
    )
    pairs: ClassVar[bool] = True

    def render_pair(self, messages: Messages, chosen: str, rejected: str) -> list[dict[str, Any]]:
        return [
            {"prompt": messages, "completion": _assistant(chosen), "label": True},
            {"prompt": messages, "completion": _assistant(rejected), "label": False},
        ]


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


__all__ = ["GROUP", "Exporter", "available", "get_exporter"]
