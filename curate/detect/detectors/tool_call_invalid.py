from __future__ import annotations

import json
from typing import Any, ClassVar

import polars as pl

from curate.core.tasks import Task
from curate.detect.detectors.base import Detector


def tool_schemas(tools: str | None) -> dict[str, Any] | None:
    """name -> parameter schema of the logged tool definitions (OpenAI and flat shapes)."""
    if not tools:
        return None
    try:
        defs = json.loads(tools)
    except json.JSONDecodeError:
        return None
    if isinstance(defs, dict):
        defs = list(defs.values()) if all(isinstance(v, dict) for v in defs.values()) else [defs]
    found: dict[str, Any] = {}
    for item in defs if isinstance(defs, list) else []:
        if isinstance(item, str):
            try:
                item = json.loads(item)
            except json.JSONDecodeError:
                continue
        if not isinstance(item, dict):
            continue
        spec = item.get("function") if isinstance(item.get("function"), dict) else item
        if spec.get("name"):
            found[spec["name"]] = (
                spec.get("parameters") or spec.get("input_schema") or spec.get("inputSchema")
            )
    return found or None


def problems(calls: list[dict[str, Any]] | None, tools: str | None) -> str | None:
    """What is wrong with a record's tool calls, or None."""
    import jsonschema

    schemas = tool_schemas(tools)
    found = []
    for call in calls or []:
        name, arguments = call.get("name"), call.get("arguments")
        try:
            args = json.loads(arguments) if arguments not in (None, "") else {}
        except json.JSONDecodeError as exc:
            found.append(f"{name}: arguments are not JSON ({exc.msg} at char {exc.pos})")
            continue
        if schemas is None:
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


class ToolCallInvalid(Detector):
    name: ClassVar[str] = "tool_call_invalid"
    description: ClassVar[str] = (
        "tool-call arguments that are not JSON, an unknown tool, or arguments that break its schema"
    )
    severity: ClassVar[str] = "high"

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        def check(rows: pl.Series) -> pl.Series:
            return pl.Series(
                [problems(r["tool_calls"], r["tools"]) for r in rows.to_list()], dtype=pl.String
            )

        with_calls = records.filter(pl.col("tool_calls").list.len() > 0)
        checked = with_calls.select(
            "record_id",
            pl.struct("tool_calls", "tools")
            .map_batches(check, return_dtype=pl.String)
            .alias("evidence"),
        )
        return checked.filter(pl.col("evidence").is_not_null())
