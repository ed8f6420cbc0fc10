from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.core.tasks import Task
from curate.detect.detectors.base import Detector, Option


class LowConfidence(Detector):
    name: ClassVar[str] = "low_confidence"
    description: ClassVar[str] = (
        "the confidence (from logprobs, or a field of the JSON output) is under a threshold"
    )
    severity: ClassVar[str] = "low"
    options: ClassVar[dict[str, Option]] = {
        "threshold": Option(0.5, "confidences below this are low"),
        "output_field": Option(
            "", "a field of the JSON output that holds the model's own confidence"
        ),
    }

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        confidence = pl.col("confidence")
        source = pl.lit("confidence")
        if self.settings["output_field"]:
            stated = (
                pl.col("output")
                .str.strip_chars()
                .str.json_path_match(f"$.{self.settings['output_field']}")
                .cast(pl.Float64, strict=False)
            )
            source = (
                pl.when(confidence.is_null())
                .then(pl.lit(self.settings["output_field"]))
                .otherwise(source)
            )
            confidence = pl.coalesce(confidence, stated)
        threshold = self.settings["threshold"]
        return records.filter((confidence < threshold).fill_null(False)).select(
            "record_id",
            (
                source
                + pl.lit(" ")
                + confidence.round(3).cast(pl.String)
                + pl.lit(f" < {threshold:g}")
            ).alias("evidence"),
        )
