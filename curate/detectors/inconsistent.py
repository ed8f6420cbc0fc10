from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.detectors.base import Detector
from curate.detectors.reference_mismatch import comparable_output
from curate.tasks import LABEL, Task

INPUT_KEY = "input_hash"


class Inconsistent(Detector):
    name: ClassVar[str] = "inconsistent"
    description: ClassVar[str] = "the same normalized input got different answers across records"

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        labelled = task is not None and task.has_labels
        answer = pl.col(LABEL) if labelled else comparable_output(task)
        answered = records.select("record_id", INPUT_KEY, answer.alias("_answer")).filter(
            pl.col("_answer").is_not_null() & pl.col(INPUT_KEY).is_not_null()
        )
        split = (
            answered.group_by(INPUT_KEY)
            .agg(pl.col("_answer").n_unique().alias("_answers"))
            .filter(pl.col("_answers") > 1)
            .select(INPUT_KEY)
        )
        involved = answered.join(split, on=INPUT_KEY, how="semi")
        tallies = (
            involved.group_by(INPUT_KEY, "_answer")
            .len()
            .sort(INPUT_KEY, "len", "_answer", descending=[False, True, False])
            .group_by(INPUT_KEY, maintain_order=True)
            .agg(
                pl.col("len").sum().alias("_records"),
                pl.concat_str(
                    pl.lit("'")
                    + pl.col("_answer").str.slice(0, 40)
                    + pl.lit("' ×")
                    + pl.col("len").cast(pl.String)
                )
                .str.join(", ")
                .alias("_tally"),
            )
        )
        return involved.join(tallies, on=INPUT_KEY).select(
            "record_id",
            (
                pl.lit("the same input got different answers in ")
                + pl.col("_records").cast(pl.String)
                + pl.lit(" records: ")
                + pl.col("_tally")
            ).alias("evidence"),
        )
