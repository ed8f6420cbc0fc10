from __future__ import annotations

from typing import ClassVar

import polars as pl
from rapidfuzz import fuzz, process

from curate.core.tasks import LABEL_RAW, LABEL_STATUS, Task
from curate.core.text import label_key_of
from curate.detect.detectors.base import Detector, quote


class LabelOutOfVocab(Detector):
    name: ClassVar[str] = "label_out_of_vocab"
    description: ClassVar[str] = "the label read from the output is not in the task's vocabulary"
    severity: ClassVar[str] = "high"
    requires: ClassVar[str | None] = "labels"

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        assert task is not None
        spellings = task.terms()
        choices = list(spellings)

        def nearest(raw: pl.Series) -> pl.Series:
            # one rapidfuzz lookup per distinct label read, not per record
            found = {}
            for text in raw.unique().drop_nulls().to_list():
                folded = label_key_of(text, task.case_sensitive)
                best = process.extractOne(folded, choices, scorer=fuzz.WRatio)
                found[text] = f"{spellings[best[0]]!r} (score {best[1]:.0f})" if best else "none"
            return raw.replace_strict(found, default="none", return_dtype=pl.String)

        labels = ", ".join(task.labels)
        return records.filter(pl.col(LABEL_STATUS) == "out_of_vocab").select(
            "record_id",
            (
                pl.lit("label ")
                + quote(pl.col(LABEL_RAW))
                + pl.lit(f" is not one of [{labels}]; nearest: ")
                + pl.col(LABEL_RAW).map_batches(nearest, return_dtype=pl.String)
            ).alias("evidence"),
        )
