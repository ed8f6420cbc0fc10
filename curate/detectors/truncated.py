from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.detectors.base import Detector, Option
from curate.tasks import OUTPUT_IS_JSON, Task


class Truncated(Detector):
    name: ClassVar[str] = "truncated"
    description: ClassVar[str] = (
        "generation stopped at the token limit, or the output is cut inside a structure"
    )
    severity: ClassVar[str] = "high"
    options: ClassVar[dict[str, Option]] = {
        "finish_reasons": Option(
            ["length", "max_tokens", "max_output_tokens"],
            "finish_reason values that mean the token limit was hit",
        ),
    }

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        output = pl.col("output").fill_null("")
        text = output.str.strip_chars()
        at_limit = pl.col("finish_reason").is_in(self.settings["finish_reasons"]).fill_null(False)
        opened = text.str.count_matches("{", literal=True) + text.str.count_matches(
            "[", literal=True
        )
        closed = text.str.count_matches("}", literal=True) + text.str.count_matches(
            "]", literal=True
        )
        # cut inside JSON: starts like JSON, does not parse, and more brackets open than close
        cut_json = text.str.starts_with("{") | text.str.starts_with("[")
        cut_json = cut_json & ~pl.col(OUTPUT_IS_JSON) & (opened > closed)
        open_fence = (text.str.count_matches("```", literal=True) % 2) == 1
        return records.filter(at_limit | cut_json | open_fence).select(
            "record_id",
            pl.when(at_limit)
            .then(pl.lit("finish_reason=") + pl.col("finish_reason"))
            .when(cut_json)
            .then(
                pl.lit("output ends inside a JSON structure (")
                + opened.cast(pl.String)
                + pl.lit(" brackets opened, ")
                + closed.cast(pl.String)
                + pl.lit(" closed)")
            )
            .otherwise(pl.lit("output ends inside a ``` code block"))
            .alias("evidence"),
        )
