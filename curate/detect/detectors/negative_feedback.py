from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.core.tasks import Task
from curate.detect.detectors.base import Detector, Option, quote


class NegativeFeedback(Detector):
    name: ClassVar[str] = "negative_feedback"
    description: ClassVar[str] = (
        "a user or reviewer scored it low (thumbs down) or gave a correction"
    )
    severity: ClassVar[str] = "high"
    options: ClassVar[dict[str, Option]] = {
        "threshold": Option(0.5, "feedback scores below this are negative (thumbs down = 0)"),
    }

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        score = pl.col("feedback_score")
        low = (score < self.settings["threshold"]).fill_null(False)
        corrected = pl.col("correction").is_not_null() & (pl.col("correction").str.len_chars() > 0)
        comment = pl.when(pl.col("feedback_comment").is_not_null()).then(
            pl.lit(", comment ") + quote(pl.col("feedback_comment"))
        )
        return records.filter(low | corrected).select(
            "record_id",
            pl.concat_str(
                pl.when(low).then(
                    pl.lit("feedback score ")
                    + score.round(3).cast(pl.String)
                    + pl.lit(f" < {self.settings['threshold']:g}")
                ),
                comment,
                pl.when(corrected).then(pl.lit(", correction ") + quote(pl.col("correction"))),
                ignore_nulls=True,
            )
            .str.strip_chars_start(", ")
            .alias("evidence"),
        )
