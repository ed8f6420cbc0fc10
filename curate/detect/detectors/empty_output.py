from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.core.tasks import Task
from curate.detect.detectors.base import Detector


class EmptyOutput(Detector):
    name: ClassVar[str] = "empty_output"
    description: ClassVar[str] = "a call that succeeded but returned no text and no tool call"
    severity: ClassVar[str] = "high"

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        blank = pl.col("output").is_null() | (
            pl.col("output").str.strip_chars().str.len_chars() == 0
        )
        no_calls = pl.col("tool_calls").is_null() | (pl.col("tool_calls").list.len() == 0)
        # errors and refusals have detectors of their own
        explained = pl.col("error").is_not_null() | pl.col("refusal").is_not_null()
        return records.filter(blank & no_calls & ~explained).select(
            "record_id",
            (
                pl.lit("empty output (finish_reason=")
                + pl.col("finish_reason").fill_null("none")
                + pl.lit(")")
            ).alias("evidence"),
        )
