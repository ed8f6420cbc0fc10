"""Write the curate.toml reference of README.md from schemas/config.schema.json.

    python scripts/config_reference.py [--check]

The section between the config-reference markers is generated, so it cannot drift from the
schema; `--check` (run by the tests) fails when README.md is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def _type(spec: dict) -> str:
    if "enum" in spec:
        return ", ".join(f"`{v}`" for v in spec["enum"])
    kind = spec.get("type", "object")
    if kind == "array":
        return f"list of {_type(spec.get('items', {}))}"
    return kind if isinstance(kind, str) else " or ".join(kind)


def _rows(prefix: str, spec: dict, schema: dict) -> list[str]:
    if "$ref" in spec:
        spec = schema["$defs"][spec["$ref"].rsplit("/", 1)[-1]]
    rows = []
    for name, sub in spec.get("properties", {}).items():
        key = f"{prefix}.{name}" if prefix else name
        if "$ref" in sub:
            sub = schema["$defs"][sub["$ref"].rsplit("/", 1)[-1]]
        description = sub.get("description", "").replace("|", "\\|")
        rows.append(f"| `{key}` | {_type(sub)} | {description} |")
        if sub.get("type") == "object" and (
            "properties" in sub or "$ref" in str(sub.get("additionalProperties"))
        ):
            rows += _rows(key, sub, schema)
        if sub.get("type") == "array" and "properties" in sub.get("items", {}):
            rows += _rows(f"{key}[]", sub["items"], schema)
    extra = spec.get("additionalProperties")
    if isinstance(extra, dict) and ("$ref" in extra or "properties" in extra):
        rows += _rows(f"{prefix}.NAME", extra, schema)
    return rows


def reference() -> str:
    schema = json.loads((ROOT / "curate" / "schemas" / "config.schema.json").read_text())
    lines = [
        START,
        "Generated from `schemas/config.schema.json` by `scripts/config_reference.py`.",
        "",
        "| key | type | meaning |",
        "|---|---|---|",
        *_rows("", schema, schema),
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.index(START), text.index(END) + len(END)
    updated = text[:start] + reference() + text[end:]
    if "--check" in sys.argv:
        if updated != text:
            sys.exit("README.md's config reference is out of date: run scripts/config_reference.py")
        return
    readme.write_text(updated)


if __name__ == "__main__":
    main()
