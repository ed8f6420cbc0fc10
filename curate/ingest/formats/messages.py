"""Message shapes of the providers and frameworks, read into canonical messages.

OpenAI chat messages, LangChain serialized messages, Anthropic content blocks, Gemini parts and
OTel GenAI parts all come down to {role, content, name, tool_call_id, tool_calls}: an
assistant turn's tool calls are part of the message (the input keeps them); the answer's are
returned beside it as well (a record's `tool_calls`).
"""

from __future__ import annotations

from typing import Any

import orjson
import polars as pl
import pyarrow as pa

from curate.core.records import MESSAGE, to_json

ROLES = {
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "model": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",
    "ipython": "tool",
}
LANGCHAIN_TYPES = {
    "HumanMessage": "user",
    "AIMessage": "assistant",
    "SystemMessage": "system",
    "ToolMessage": "tool",
    "FunctionMessage": "tool",
    "ChatMessage": None,
}


def maybe_json(value: Any) -> Any:
    """A JSON string decoded; anything else as it is."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def parts_text(content: Any) -> tuple[str | None, list[dict[str, Any]]]:
    """(text, tool calls) of message content: a string, or a list of parts/blocks."""
    if content is None:
        return None, []
    if isinstance(content, str):
        return content, []
    if isinstance(content, dict):
        content = content.get("parts", [content]) if "parts" in content else [content]
    if not isinstance(content, list):
        return to_json(content), []
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        call = part.get("functionCall") or part.get("function_call")
        if isinstance(call, dict) or kind in (
            "tool_use",
            "tool_call",
            "function_call",
            "tool-call",
        ):
            call = call if isinstance(call, dict) else part
            args = call.get("input", call.get("arguments", call.get("args")))
            calls.append(
                {
                    "id": call.get("id") or call.get("call_id") or call.get("toolCallId"),
                    "name": call.get("name") or call.get("toolName"),
                    "arguments": to_json(args),
                }
            )
            continue
        if "toolName" in part:  # Vercel AI SDK tool calls
            calls.append(
                {
                    "id": part.get("toolCallId"),
                    "name": part["toolName"],
                    "arguments": to_json(part.get("input", part.get("args"))),
                }
            )
            continue
        response = part.get("functionResponse") or part.get("function_response")
        if isinstance(response, dict):
            texts.append(to_json(response.get("response", response)) or "")
            continue
        text = part.get("text", part.get("content"))
        if isinstance(text, dict):
            text = text.get("value")
        if isinstance(text, str):
            texts.append(text)
        elif kind == "tool_result":
            texts.append(to_json(part.get("content")) or "")
        elif kind:
            texts.append(f"[{kind}]")
    return ("\n".join(texts) if texts or not calls else None), calls


def openai_tool_calls(calls: Any) -> list[dict[str, Any]]:
    """Tool calls in OpenAI ({function: {name, arguments}}) or flat ({name, args}) shape."""
    out = []
    for call in calls or []:
        if not isinstance(call, dict):
            continue
        function = call.get("function") if isinstance(call.get("function"), dict) else call
        args = function.get("arguments", function.get("args", function.get("input")))
        out.append({"id": call.get("id"), "name": function.get("name"), "arguments": to_json(args)})
    return out


def read_message(message: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(canonical message, its tool calls) from any known message shape; None when not one."""
    if isinstance(message, str):
        return user_message(message), []
    if not isinstance(message, dict):
        return None, []
    if message.get("lc") and isinstance(message.get("kwargs"), dict):  # LangChain serialized
        kind = (message.get("id") or [""])[-1]
        kwargs = message["kwargs"]
        role = LANGCHAIN_TYPES.get(kind) or ROLES.get(str(kwargs.get("type")), kwargs.get("role"))
        message = {**kwargs, "role": role}
        extra = kwargs.get("additional_kwargs") or {}
        message.setdefault("tool_calls", extra.get("tool_calls"))
    kind = message.get("type")
    if kind == "function_call" and "role" not in message:  # Responses API input items
        call = {
            "id": message.get("call_id") or message.get("id"),
            "name": message.get("name"),
            "arguments": to_json(message.get("arguments")),
        }
        return {
            "role": "assistant",
            "content": None,
            "name": None,
            "tool_call_id": None,
            "tool_calls": [call],
        }, [call]
    if kind == "function_call_output" and "role" not in message:
        output = message.get("output")
        return {
            "role": "tool",
            "content": output if isinstance(output, str) else to_json(output),
            "name": None,
            "tool_call_id": message.get("call_id"),
            "tool_calls": None,
        }, []
    role = message.get("role") or kind
    role = ROLES.get(str(role).lower(), role) if role is not None else None
    if role is None:
        return None, []
    content = message.get("content")
    if role == "tool" and isinstance(content, dict) and content.get("type") == "function":
        return None, []  # a tool definition that a framework logged as a message
    text, calls = parts_text(message.get("content", message.get("parts")))
    calls = calls + openai_tool_calls(message.get("tool_calls"))
    extra = message.get("additional_kwargs")
    if isinstance(extra, dict) and not message.get("tool_calls"):
        calls += openai_tool_calls(extra.get("tool_calls"))
    if isinstance(message.get("function_call"), dict):
        calls += openai_tool_calls([{"function": message["function_call"]}])
    name = message.get("name")
    return {
        "role": role,
        "content": text,
        "name": name if isinstance(name, str) else None,
        "tool_call_id": message.get("tool_call_id"),
        "tool_calls": calls or None,
    }, calls


def user_message(text: str | None) -> dict[str, Any]:
    return {"role": "user", "content": text, "name": None, "tool_call_id": None, "tool_calls": None}


def system_message(text: str | None) -> dict[str, Any]:
    return user_message(text) | {"role": "system"}


def read_messages(value: Any) -> list[dict[str, Any]]:
    """Canonical messages from a list of messages (or a dict holding `messages`, or text)."""
    value = maybe_json(value)
    if isinstance(value, dict):
        for key in ("messages", "contents", "input", "prompt"):
            if key in value:
                messages = read_messages(value[key])
                config = value.get("config") if isinstance(value.get("config"), dict) else value
                system = config.get("system_instruction", config.get("systemInstruction"))
                if system:
                    text = system if isinstance(system, str) else parts_text(system)[0]
                    messages.insert(0, system_message(text))
                return messages
        message, _ = read_message(value)
        return [message] if message else []
    if isinstance(value, str):
        return [user_message(value)]
    if not isinstance(value, list):
        return []
    if len(value) == 1 and isinstance(value[0], list):  # LangChain batches: [[...]]
        value = value[0]
    messages: list[dict[str, Any]] = []
    for item in value:
        message, _ = read_message(item)
        if message is None:
            continue
        last = messages[-1] if messages else None
        if last is not None and _call_only(last) and _call_only(message):
            # the Responses API logs parallel calls as one item each: one assistant turn
            last["tool_calls"] = last["tool_calls"] + message["tool_calls"]
            continue
        messages.append(message)
    return messages


def _call_only(message: dict[str, Any]) -> bool:
    return message["role"] == "assistant" and not message["content"] and bool(message["tool_calls"])


def read_output(value: Any) -> tuple[str | None, list[dict[str, Any]], str | None]:
    """(text, tool calls, finish_reason) of a model output in any known shape."""
    value = maybe_json(value)
    if value is None or isinstance(value, str):
        return value, [], None
    if isinstance(value, list):
        if value and all(isinstance(v, dict) and ("role" in v or "lc" in v) for v in value):
            value = value[-1]  # a list of messages: the last is the model's answer
        else:
            text, calls = parts_text(value)
            return text, calls, None
    if not isinstance(value, dict):
        return to_json(value), [], None
    if value.get("object") == "response" and isinstance(value.get("output"), list):
        return responses_output(value)
    if isinstance(value.get("message"), dict):  # one OpenAI choice
        text, calls, _ = read_output(value["message"])
        return text, calls, value.get("finish_reason")
    if isinstance(value.get("choices"), list) and value["choices"]:  # an OpenAI completion
        choice = value["choices"][0]
        text, calls, _ = read_output(choice.get("message") or {"content": choice.get("text")})
        return text, calls, choice.get("finish_reason")
    if isinstance(value.get("generations"), list):  # LangChain LLMResult
        generations = value["generations"]
        first = generations[0] if generations else None
        if isinstance(first, list):
            first = first[0] if first else None
        if not isinstance(first, dict):
            return None, [], None
        info = first.get("generation_info") or {}
        if first.get("message"):
            text, calls, _ = read_output(first["message"])
            text = text if text is not None else first.get("text")
        else:
            text, calls = first.get("text"), []
        return text, calls, info.get("finish_reason")
    if isinstance(value.get("candidates"), list) and value["candidates"]:  # Gemini
        candidate = value["candidates"][0]
        text, calls = parts_text((candidate.get("content") or {}).get("parts"))
        return text, calls, gemini_finish(candidate.get("finishReason"))
    if "content" in value and isinstance(value.get("content"), dict | list) and "role" not in value:
        value = {"role": "assistant", **value}
    if "role" in value or "lc" in value or "content" in value:
        message, calls = read_message(
            {"role": "assistant", **value} if "role" not in value else value
        )
        finish = value.get("finish_reason") or value.get("stop_reason")
        return (message or {}).get("content"), calls, finish
    if isinstance(value.get("output"), str | dict | list):
        return read_output(value["output"])
    if isinstance(value.get("text"), str):
        return value["text"], [], None
    return to_json(value), [], None


def responses_output(
    response: dict[str, Any],
) -> tuple[str | None, list[dict[str, Any]], str | None]:
    """(text, tool calls, finish_reason) of an OpenAI Responses API response object."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in response.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "function_call":
            calls.append(
                {
                    "id": item.get("call_id") or item.get("id"),
                    "name": item.get("name"),
                    "arguments": to_json(item.get("arguments")),
                }
            )
        elif item.get("type") == "message":
            text, found = parts_text(item.get("content"))
            texts += [text] if text else []
            calls += found
    incomplete = (response.get("incomplete_details") or {}).get("reason")
    finish = "length" if incomplete == "max_output_tokens" else incomplete
    if finish is None:
        finish = (
            "tool_calls" if calls else ("stop" if response.get("status") == "completed" else None)
        )
    return ("\n".join(texts) if texts or not calls else None), calls, finish


GEMINI_FINISH = {
    1: "stop",
    2: "length",
    3: "content_filter",
    4: "content_filter",
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "MALFORMED_FUNCTION_CALL": "tool_calls_error",
}
ANTHROPIC_FINISH = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def gemini_finish(value: Any) -> str | None:
    if value is None:
        return None
    return GEMINI_FINISH.get(value, str(value).lower())


def normalize_finish(value: Any) -> str | None:
    """One word for why generation stopped, across providers (length, stop, tool_calls, ...)."""
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    if value in GEMINI_FINISH:
        return GEMINI_FINISH[value]
    word = str(value)
    return ANTHROPIC_FINISH.get(word, word.lower())


def turns(*columns: tuple[str, pl.Series]) -> pl.Series:
    """One list of messages per row from columns of text, one message per (role, column) in the
    order given, where the row's text is not null: [(`system`, prompts), (`user`, questions)]
    gives [system, user], [user], [system] or [] per row.

    Built from the flat messages and each row's count (an Arrow list's offsets): polars'
    concat_list of structs, then a filter in list.eval, cost 8 us a row; this, 0.5.
    """
    n = len(columns[0][1])
    rows = pl.int_range(0, n, eager=True, dtype=pl.Int64)
    long = pl.concat(
        [
            pl.DataFrame(
                {
                    "row": rows,
                    "order": pl.repeat(k, n, eager=True, dtype=pl.Int32),
                    "role": pl.repeat(role, n, eager=True, dtype=pl.String),
                    "content": text.cast(pl.String),
                }
            )
            for k, (role, text) in enumerate(columns)
        ]
    )
    flat = long.filter(pl.col("content").is_not_null()).sort("row", "order")
    counts = sum(text.is_not_null().cast(pl.Int64) for _, text in columns)
    offsets = pa.array(pl.concat([pl.Series([0], dtype=pl.Int64), counts.cum_sum()]).to_arrow())
    messages = flat.select(pl.struct("role", "content").cast(MESSAGE).alias("m"))["m"].to_arrow()
    return pl.Series("messages", pa.LargeListArray.from_arrays(offsets, messages))
