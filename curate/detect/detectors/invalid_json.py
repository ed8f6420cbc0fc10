from __future__ import annotations

import json
from typing import ClassVar

import polars as pl

from curate.core.tasks import OUTPUT_IS_JSON, Task
from curate.detect.detectors.base import Detector


def json_error(text: str) -> str:
    """The parser's own message, with line, column and position."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
    return "parses as JSON"


class InvalidJson(Detector):
    name: ClassVar[str] = "invalid_json"
    description: ClassVar[str] = "the task wants JSON and the output does not parse"
    severity: ClassVar[str] = "high"
    requires: ClassVar[str | None] = "json"

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        output = pl.col("output")
        present = output.is_not_null() & (output.str.strip_chars().str.len_chars() > 0)

        def errors(outputs: pl.Series) -> pl.Series:
            # one parse per distinct output, for its message
            messages = {text: json_error(text) for text in outputs.unique().to_list()}
            return outputs.replace_strict(messages, return_dtype=pl.String)

        return records.filter(present & ~pl.col(OUTPUT_IS_JSON)).select(
            "record_id",
            (pl.lit("not valid JSON: ") + output.map_batches(errors, return_dtype=pl.String)).alias(
                "evidence"
            ),
        )
