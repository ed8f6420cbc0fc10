from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.core.tasks import LABEL, LABEL_RAW, LABEL_STATUS, Task
from curate.core.text import label_key
from curate.detect.detectors.base import Detector, quote


def comparable_output(task: Task | None) -> pl.Expr:
    """The output as it is compared when there is no label: canonical JSON, or folded text."""
    output = pl.col("output")
    if task is not None and task.wants_json:
        return pl.coalesce(output.str.strip_chars().str.json_path_match("$"), label_key(output))
    return label_key(output)


class ReferenceMismatch(Detector):
    name: ClassVar[str] = "reference_mismatch"
    description: ClassVar[str] = (
        "the label read (or the normalized output) differs from the known reference"
    )
    severity: ClassVar[str] = "high"

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        reference = pl.col("reference")
        if task is not None and task.has_labels:
            terms = task.terms()
            folded = label_key(reference, task.case_sensitive)
            expected = folded.replace_strict(terms, default=None, return_dtype=pl.String)
            expected = pl.coalesce(expected, folded)
            got = pl.coalesce(pl.col(LABEL), label_key(pl.col(LABEL_RAW), task.case_sensitive))
            # an unparseable output has no label to compare: label_unparseable reports it
            compared = pl.col(LABEL_STATUS).is_in(["ok", "out_of_vocab"])
            shown = pl.coalesce(pl.col(LABEL), pl.col(LABEL_RAW))
        else:
            folded_reference = (
                pl.coalesce(
                    reference.str.strip_chars().str.json_path_match("$"), label_key(reference)
                )
                if task is not None and task.wants_json
                else label_key(reference)
            )
            expected, got = folded_reference, comparable_output(task)
            compared = pl.col("output").is_not_null()
            shown = pl.col("output")
        mismatch = reference.is_not_null() & compared & (got != expected).fill_null(True)
        return records.filter(mismatch).select(
            "record_id",
            (
                pl.lit("model said ") + quote(shown) + pl.lit(", reference is ") + quote(reference)
            ).alias("evidence"),
        )
