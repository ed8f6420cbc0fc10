"""Each export format's documented shape, written from its trainer's docs (column names, roles,
types), as a check over the lines of an export: TRL's dataset formats (conversational
language modeling, preference, unpaired preference, prompt-only), OpenAI's chat and preference
fine-tuning files, LLaMA-Factory's sharegpt / alpaca (data/README.md), and the prompt-completion
shape."""

from __future__ import annotations

from typing import Any

ROLES = {"system", "user", "assistant", "tool"}


def _conversation(messages: Any, *, ends_with: str | None = None) -> None:
    assert isinstance(messages, list) and messages
    for m in messages:
        assert m["role"] in ROLES, m
        assert isinstance(m.get("content"), str) or m.get("tool_calls"), m
        for call in m.get("tool_calls") or []:
            assert call["type"] == "function" and isinstance(call["function"]["name"], str)
        if m["role"] == "tool":
            assert isinstance(m.get("tool_call_id"), str) or m.get("tool_call_id") is None
    if ends_with:
        assert messages[-1]["role"] == ends_with


def _answer(side: Any) -> None:
    assert isinstance(side, list) and len(side) == 1 and side[0]["role"] == "assistant"
    assert side[0].get("content") or side[0].get("tool_calls")


def _sharegpt_turns(turns: Any) -> None:
    assert isinstance(turns, list) and turns
    kinds = {"system", "human", "gpt", "function_call", "observation"}
    assert all(set(t) == {"from", "value"} and t["from"] in kinds for t in turns), turns
    assert all(isinstance(t["value"], str) for t in turns)


def _tools(line: dict[str, Any], as_text: bool) -> None:
    if "tools" not in line:
        return
    if as_text:
        assert isinstance(line["tools"], str)
    else:
        assert all(t["type"] == "function" and t["function"]["name"] for t in line["tools"])


def check_line(fmt: str, line: dict[str, Any]) -> None:
    """The line is in `fmt`'s documented shape; an AssertionError says where it is not."""
    keys = set(line) - {"tools"}
    if fmt == "openai":
        assert keys == {"messages"}
        _conversation(line["messages"], ends_with="assistant")
    elif fmt == "prompt-completion":
        assert keys == {"prompt", "completion"}
        assert isinstance(line["prompt"], str) and line["prompt"].endswith("assistant:")
        assert isinstance(line["completion"], str) and line["completion"].startswith(" ")
    elif fmt == "sharegpt":
        assert keys == {"conversations"}
        _sharegpt_turns(line["conversations"])
        assert line["conversations"][-1]["from"] in ("gpt", "function_call")
    elif fmt == "alpaca":
        assert keys == {"instruction", "input", "output"}
        assert all(isinstance(line[k], str) for k in keys) and line["output"]
    elif fmt == "dpo":
        assert keys == {"prompt", "chosen", "rejected"}
        _conversation(line["prompt"], ends_with=None)
        _answer(line["chosen"])
        _answer(line["rejected"])
    elif fmt == "openai-preference":
        assert keys == {"input", "preferred_output", "non_preferred_output"}
        assert set(line["input"]) - {"tools"} == {"messages"}
        _conversation(line["input"]["messages"])
        _answer(line["preferred_output"])
        _answer(line["non_preferred_output"])
    elif fmt == "kto":
        assert keys == {"prompt", "completion", "label"}
        _conversation(line["prompt"])
        _answer(line["completion"])
        assert isinstance(line["label"], bool)
    elif fmt == "sharegpt-dpo":
        assert keys == {"conversations", "chosen", "rejected"}
        _sharegpt_turns(line["conversations"])
        for side in ("chosen", "rejected"):
            assert line[side]["from"] in ("gpt", "function_call")
    elif fmt == "sharegpt-kto":
        assert keys == {"conversations", "kto_tag"}
        _sharegpt_turns(line["conversations"])
        assert isinstance(line["kto_tag"], bool)
    elif fmt == "grpo":
        assert keys == {"prompt", "task", "answer"}
        _conversation(line["prompt"])
        assert line["prompt"][-1]["role"] != "assistant"
        assert isinstance(line["task"], str) and isinstance(line["answer"], str)
    else:
        raise AssertionError(f"no documented shape for {fmt}: add it here")
    _tools(line, as_text=fmt.startswith("sharegpt"))


def check_export(fmt: str, lines: list[dict[str, Any]], path) -> None:
    """Every line in the format's shape, and the file loads with `datasets` as written."""
    from datasets import load_dataset

    assert lines, fmt
    for number, line in enumerate(lines, 1):
        try:
            check_line(fmt, line)
        except (AssertionError, KeyError, TypeError) as exc:
            raise AssertionError(f"{fmt} line {number}: {exc!r}: {line}") from None
    loaded = load_dataset("json", data_files=str(path), split="train")
    assert loaded.num_rows == len(lines), fmt
