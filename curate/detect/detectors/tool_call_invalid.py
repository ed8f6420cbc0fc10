from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.core.tasks import Task
from curate.core.tool_calls import problems
from curate.detect.detectors.base import Detector


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
