"""Tool calls as curate shows, compares and trains them.

A record keeps tool calls as the model wrote them: {id, name, arguments} with the arguments as
text (usually JSON). People see an answer that is tool calls, and correct it, as JSON:
`[{"name": "get_weather", "arguments": {"city": "Oslo"}}]`. Export reads a correction back as
tool calls when it has that shape and names tools the request declared (its `tools`), so a
corrected answer may be a tool call wherever the task's answers are.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def _arguments(text: Any) -> Any:
    """Arguments decoded where they are JSON; else as written."""
    if not isinstance(text, str):
        return text
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def calls_text(calls: list[dict[str, Any]] | None) -> str | None:
    """The calls as people see them: a JSON list of {name, arguments}; None for no calls."""
    if not calls:
        return None
    shown = [{"name": c.get("name"), "arguments": _arguments(c.get("arguments"))} for c in calls]
    return json.dumps(shown, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def shown_output(output: str | None, calls: list[dict[str, Any]] | None) -> str | None:
    """The answer of a call: its text, or its tool calls where it has no text."""
    return output if output not in (None, "") else calls_text(calls) or output


def openai_tools(tools: str | None) -> list[dict[str, Any]] | None:
    """A record's `tools` (JSON text) as OpenAI's request lists them: {type: function,
    function: {name, description, parameters}}. Flat definitions ({name, parameters}) and
    Anthropic's ({name, input_schema}) are wrapped; what is no tool definition is left out."""
    value = _arguments(tools)
    if isinstance(value, dict) and isinstance(value.get("tools"), list):
        value = value["tools"]
    elif isinstance(value, dict):  # one definition, or definitions by name
        many = value and all(isinstance(v, dict) for v in value.values())
        value = list(value.values()) if many and "name" not in value else [value]
    if not isinstance(value, list):
        return None
    out = []
    for tool in value:
        tool = _arguments(tool)  # a definition logged as JSON text
        if not isinstance(tool, dict):
            continue
        function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        name = function.get("name")
        if not isinstance(name, str) or not name:
            continue
        entry: dict[str, Any] = {"name": name}
        if function.get("description"):
            entry["description"] = function["description"]
        parameters = function.get(
            "parameters", function.get("input_schema", function.get("inputSchema"))
        )
        if isinstance(parameters, dict):
            entry["parameters"] = parameters
        out.append({"type": "function", "function": entry})
    return out or None


def problems(calls: list[dict[str, Any]] | None, tools: str | None) -> str | None:
    """What is wrong with tool calls against the request's tools, or None: arguments that are
    not JSON, an unknown tool, arguments that break the tool's parameter schema. The rule of
    the tool_call_invalid detector, and of a corrected answer that is a call."""
    import jsonschema

    defined = openai_tools(tools)
    schemas = {t["function"]["name"]: t["function"].get("parameters") for t in defined or []}
    found = []
    for call in calls or []:
        name, arguments = call.get("name"), call.get("arguments")
        try:
            args = json.loads(arguments) if arguments not in (None, "") else {}
        except json.JSONDecodeError as exc:
            found.append(f"{name}: arguments are not JSON ({exc.msg} at char {exc.pos})")
            continue
        if not schemas:
            continue
        if name not in schemas:
            found.append(f"unknown tool {name!r} (logged tools: {', '.join(sorted(schemas))})")
            continue
        schema = schemas[name]
        if isinstance(schema, dict) and schema:
            error = jsonschema.exceptions.best_match(
                jsonschema.validators.validator_for(schema)(schema).iter_errors(args)
            )
            if error is not None:
                path = "".join(
                    f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
                )
                found.append(f"{name}: arguments{path}: {error.message}")
    return "; ".join(found) or None


def read_calls(text: str | None, tools: list[dict[str, Any]] | None) -> list[dict[str, str]] | None:
    """The tool calls `text` says, in the record's shape ({id, name, arguments as JSON text}),
    when it is a JSON list of {name, arguments} (one such object, or {"tool_calls": [...]})
    naming only tools the request declared; else None: the text is an answer of its own."""
    names = {t["function"]["name"] for t in tools or []}
    value = _arguments(text) if names else None
    if isinstance(value, dict):
        value = value.get("tool_calls", [value])
    if not isinstance(value, list) or not value:
        return None
    calls = []
    for number, call in enumerate(value, 1):
        if not isinstance(call, dict) or set(call) - {"name", "arguments", "id"}:
            return None
        if call.get("name") not in names:
            return None
        arguments = call.get("arguments", {})
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False, sort_keys=True)
        call_id = call.get("id") or f"call_{number}"
        calls.append({"id": call_id, "name": call["name"], "arguments": arguments})
    return calls


__all__ = ["calls_text", "openai_tools", "problems", "read_calls", "shown_output"]
