from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.core.tasks import LABEL_STATUS, Task
from curate.detect.detectors.base import Detector, quote


def how_read(task: Task) -> str:
    if task.parse_mode == "json":
        return f"no JSON field {task.parse_field!r}"
    if task.parse_mode == "regex":
        return f"pattern {task.parse_pattern!r} does not match"
    return "nothing to read"


class LabelUnparseable(Detector):
    name: ClassVar[str] = "label_unparseable"
    description: ClassVar[str] = "no label can be read out of the output"
    severity: ClassVar[str] = "high"
    requires: ClassVar[str | None] = "labels"

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        assert task is not None
        return records.filter(pl.col(LABEL_STATUS) == "unparseable").select(
            "record_id",
            (pl.lit(f"{how_read(task)} in output ") + quote(pl.col("output"))).alias("evidence"),
        )
