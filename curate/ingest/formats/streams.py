"""Calls that do not arrive as one chat.completion, made into one: streamed
`chat.completion.chunk` objects assembled, OpenAI Responses API objects (`response`, and the
request's `instructions` + `input`) read as the chat completion and messages they amount to,
and message content given as a list of parts joined into text."""

from __future__ import annotations

from typing import Any

import orjson

from curate.ingest.formats.messages import read_messages, responses_output


def content_text(content: Any) -> str | None:
    """Message content as text: a string as is, a list of parts joined (text parts only)."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, dict):  # Responses-style {"text": {"value": ...}}
                    text = text.get("value")
                if isinstance(text, str):
                    texts.append(text)
                elif part.get("type"):
                    texts.append(f"[{part['type']}]")
        return "\n".join(texts)
    return orjson.dumps(content).decode()


def assemble_stream(chunks: list[Any]) -> dict[str, Any]:
    """One chat.completion from its streamed chat.completion.chunk objects."""
    completion: dict[str, Any] = {"object": "chat.completion", "choices": []}
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        for key in ("id", "model", "created"):
            if chunk.get(key) is not None and key not in completion:
                completion[key] = chunk[key]
        if chunk.get("usage"):
            completion["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or []:
            index = choice.get("index", 0)
            slot = choices.setdefault(
                index, {"index": index, "text": [], "tools": {}, "refusal": [], "finish": None}
            )
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                slot["text"].append(delta["content"])
            if isinstance(choice.get("text"), str):  # streamed legacy completions
                slot["text"].append(choice["text"])
            if isinstance(delta.get("refusal"), str):
                slot["refusal"].append(delta["refusal"])
            for call in delta.get("tool_calls") or []:
                tool = slot["tools"].setdefault(
                    call.get("index", 0), {"id": None, "type": "function", "name": "", "args": []}
                )
                tool["id"] = call.get("id") or tool["id"]
                function = call.get("function") or {}
                tool["name"] += function.get("name") or ""
                tool["args"].append(function.get("arguments") or "")
            if choice.get("finish_reason"):
                slot["finish"] = choice["finish_reason"]
    for index in sorted(choices):
        slot = choices[index]
        tool_calls = [
            {
                "id": t["id"],
                "type": t["type"],
                "function": {"name": t["name"], "arguments": "".join(t["args"])},
            }
            for _, t in sorted(slot["tools"].items())
        ]
        message = {
            "role": "assistant",
            "content": "".join(slot["text"]) if slot["text"] else None,
            "refusal": "".join(slot["refusal"]) if slot["refusal"] else None,
            "tool_calls": tool_calls or None,
        }
        completion["choices"].append(
            {"index": index, "message": message, "finish_reason": slot["finish"]}
        )
    return completion


def responses_to_completion(response: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI Responses API `response` object as the chat.completion it amounts to."""
    text, calls, finish = responses_output(response)
    refusals = [
        part.get("refusal")
        for item in response.get("output") or []
        if isinstance(item, dict) and item.get("type") == "message"
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == "refusal"
    ]
    if refusals:
        text = text if text and text != "[refusal]" else None
    usage = response.get("usage") or {}
    message = {
        "role": "assistant",
        "content": text,
        "refusal": "\n".join(r for r in refusals if r) or None,
        "tool_calls": [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in calls
        ]
        or None,
    }
    completion = {
        "id": response.get("id"),
        "created": response.get("created_at"),
        "model": response.get("model"),
        "usage": {
            "prompt_tokens": usage.get("input_tokens"),
            "completion_tokens": usage.get("output_tokens"),
        },
        "error": response.get("error"),
    }
    if response.get("status") != "failed" or response.get("output"):
        completion["choices"] = [{"index": 0, "message": message, "finish_reason": finish}]
    return completion


def responses_request(request: dict[str, Any]) -> dict[str, Any]:
    """A Responses API request's `instructions` and `input` as chat messages."""
    messages = read_messages(request.get("input"))
    if request.get("instructions"):
        messages.insert(0, {"role": "system", "content": request["instructions"]})
    return {**request, "messages": messages, "input": None}
