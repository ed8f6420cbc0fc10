from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.core.tasks import LABEL, Task
from curate.detect.detectors.base import Detector
from curate.detect.detectors.reference_mismatch import comparable_output

INPUT_KEY = "input_hash"
# answers are compared within one deployment: a second model (or prompt version) answering the
# same inputs differently is what `report --compare` measures, not a failure of either
DEPLOYMENT = ("model", "prompt_version")
GROUP = (INPUT_KEY, *DEPLOYMENT)


class Inconsistent(Detector):
    name: ClassVar[str] = "inconsistent"
    description: ClassVar[str] = (
        "the same normalized input got different answers from the same model and prompt version"
    )

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        labelled = task is not None and task.has_labels
        answer = pl.col(LABEL) if labelled else comparable_output(task)
        answered = records.select("record_id", *GROUP, answer.alias("_answer")).filter(
            pl.col("_answer").is_not_null() & pl.col(INPUT_KEY).is_not_null()
        )
        split = (
            answered.group_by(GROUP)
            .agg(pl.col("_answer").n_unique().alias("_answers"))
            .filter(pl.col("_answers") > 1)
            .select(GROUP)
        )
        involved = answered.join(split, on=GROUP, how="semi", nulls_equal=True)
        tallies = (
            involved.group_by(*GROUP, "_answer")
            .len()
            .sort(*GROUP, "len", "_answer", descending=[False, False, False, True, False])
            .group_by(GROUP, maintain_order=True)
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
        return involved.join(tallies, on=GROUP, nulls_equal=True).select(
            "record_id",
            (
                pl.lit("the same input got different answers in ")
                + pl.col("_records").cast(pl.String)
                + pl.lit(" records: ")
                + pl.col("_tally")
            ).alias("evidence"),
        )
