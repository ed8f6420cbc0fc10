"""Log formats: one module per format, registered here, detected from content.

Adding a format: a new module with a LogFormat subclass, and one line in FORMATS.
"""

from __future__ import annotations

import difflib

from curate.errors import InputError, UnknownFormat
from curate.formats.base import LogFormat, ReadContext, Sample, Source
from curate.formats.langfuse import Langfuse
from curate.formats.langsmith import LangSmith
from curate.formats.litellm import LiteLLM
from curate.formats.openai_batch import OpenAIBatch, OpenAIBatchInput
from curate.formats.openai_chat import OpenAIChat
from curate.formats.otel import OTelGenAI
from curate.formats.table import Table
from curate.formats.vcr import VCRCassette

# Detection tries them in this order: the most specific shapes first.
FORMATS: dict[str, LogFormat] = {
    f.name: f
    for f in (
        OpenAIBatchInput(),
        OpenAIBatch(),
        Langfuse(),
        LangSmith(),
        OTelGenAI(),
        LiteLLM(),
        OpenAIChat(),
        VCRCassette(),
        Table(),
    )
}

__all__ = ["FORMATS", "LogFormat", "ReadContext", "Sample", "Source", "detect_format", "get_format"]


def get_format(name: str) -> LogFormat:
    """The format called `name`, or an error that suggests the nearest and lists them all."""
    if name in FORMATS:
        return FORMATS[name]
    close = difflib.get_close_matches(name, list(FORMATS), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise InputError(f"unknown format {name!r}; {hint}available: auto, {', '.join(FORMATS)}")


def detect_format(source: Source) -> LogFormat:
    """The first format whose sniff accepts the file's head, or UnknownFormat saying why not."""
    sample = source.sample()
    if not sample.head.strip():
        raise InputError(f"{source.display}: the file is empty; there is nothing to ingest.")
    for fmt in FORMATS.values():
        if fmt.sniffed and fmt.sniff(sample):
            return fmt
    tried = "\n".join(f"  - {f.name}: {f.expects}" for f in FORMATS.values())
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
