from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.core.tasks import Task
from curate.detect.detectors.base import Detector, quote


class ApiError(Detector):
    name: ClassVar[str] = "api_error"
    description: ClassVar[str] = (
        "the call failed: an error was logged, or the HTTP status is not 2xx"
    )
    severity: ClassVar[str] = "low"  # nothing to label: the model never answered

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        status = pl.col("status_code")
        bad_status = status.is_not_null() & ((status < 200) | (status > 299))
        failed = pl.col("error").is_not_null() | bad_status
        return records.filter(failed).select(
            "record_id",
            pl.concat_str(
                pl.when(status.is_not_null()).then(pl.lit("HTTP ") + status.cast(pl.String)),
                pl.when(pl.col("error").is_not_null()).then(quote(pl.col("error"), 160)),
                separator=": ",
                ignore_nulls=True,
            ).alias("evidence"),
        )
