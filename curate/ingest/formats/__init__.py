"""Log formats: one module per format, registered as plugins, detected from content.

Adding a format: a LogFormat subclass (curate/ingest/formats/base.py), registered under the entry
point group `curate.formats` in the pyproject.toml of the package that holds it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from curate.core.errors import InputError, UnknownFormat
from curate.core.plugins import did_you_mean, load_group
from curate.ingest.formats.base import LogFormat, ReadContext, Sample, Source

GROUP = "curate.formats"

__all__ = [
    "GROUP",
    "LogFormat",
    "ReadContext",
    "Sample",
    "Source",
    "available",
    "describe",
    "detect_format",
    "get_format",
]


@cache
def available() -> dict[str, LogFormat]:
    """Every registered format by name, in the order detection tries them (`priority`)."""
    classes = load_group(GROUP, LogFormat, "log format")
    return {cls.name: cls() for cls in sorted(classes.values(), key=lambda c: c.priority)}


def describe() -> list[dict[str, Any]]:
    """The log formats ingest reads, as data."""
    return [
        {"name": f.name, "detected": f.sniffed, "expects": f.expects} for f in available().values()
    ]


def get_format(name: str) -> LogFormat:
    """The format called `name`, or an error that suggests the nearest and lists them all."""
    formats = available()
    if name in formats:
        return formats[name]
    hint = did_you_mean(name, list(formats))
    raise InputError(f"unknown format {name!r}; {hint}available: auto, {', '.join(formats)}")


def detect_format(source: Source) -> LogFormat:
    """The first format whose sniff accepts the file's head, or UnknownFormat saying why not."""
    sample = source.sample()
    if not sample.head.strip():
        raise InputError(f"{source.display}: the file is empty; there is nothing to ingest.")
    for fmt in available().values():
        if fmt.sniffed and fmt.sniff(sample):
            return fmt
    tried = "\n".join(f"  - {f.name}: {f.expects}" for f in available().values())
    shape = ""
    if sample.objects:
        keys = ", ".join(list(sample.objects[0])[:12])
        kind = "one JSON array of objects" if isinstance(sample.document, list) else "JSON objects"
        shape = f" It holds {kind}, the first with the keys: {keys}."
    raise UnknownFormat(
        f"{source.display}: matches no log format curate knows.{shape} Tried:\n{tried}\n"
        "Name one with --format NAME, or read any JSONL/CSV/Parquet file as a table with "
        "--map input=COLUMN --map output=COLUMN [--map reference=COLUMN ...]."
    )
