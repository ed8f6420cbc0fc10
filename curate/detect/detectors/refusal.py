from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.core.tasks import Task
from curate.detect.detectors.base import Detector, Option, quote

PATTERNS = [
    "i can't assist",
    "i cannot assist",
    "i can't help",
    "i cannot help",
    "i can't provide",
    "i cannot provide",
    "i'm unable to",
    "i am unable to",
    "i'm not able to",
    "i won't be able to",
    "i must decline",
    "i'm sorry, but i can",
    "as an ai language model",
]


class Refusal(Detector):
    name: ClassVar[str] = "refusal"
    description: ClassVar[str] = (
        "the model refused: a refusal field, a content filter, or refusal phrasing"
    )
    options: ClassVar[dict[str, Option]] = {
        "patterns": Option(
            PATTERNS, "phrases (case-insensitive) that mark a refusal in the output"
        ),
        "filter_reasons": Option(["content_filter"], "finish_reason values of a content filter"),
    }

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        patterns = [p.lower() for p in self.settings["patterns"]]
        # curly apostrophes are common in model text: match them as straight ones
        output = pl.col("output").str.replace_all("\u2019", "'", literal=True)
        field = pl.col("refusal").is_not_null() & (pl.col("refusal").str.len_chars() > 0)
        filtered = pl.col("finish_reason").is_in(self.settings["filter_reasons"]).fill_null(False)
        phrased = output.str.contains_any(patterns, ascii_case_insensitive=True).fill_null(False)
        if not patterns:
            phrased = pl.lit(False)
        return records.filter(field | filtered | phrased).select(
            "record_id",
            pl.when(field)
            .then(pl.lit("refusal: ") + quote(pl.col("refusal")))
            .when(filtered)
            .then(pl.lit("finish_reason=") + pl.col("finish_reason"))
            .otherwise(pl.lit("refusal phrasing in output ") + quote(pl.col("output")))
            .alias("evidence"),
        )
