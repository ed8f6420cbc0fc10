from __future__ import annotations

from typing import ClassVar

import polars as pl

from curate.core.tasks import LABEL_STATUS, OUTPUT_IS_JSON, Task
from curate.core.text import label_key
from curate.core.triage import LIMIT_REASONS
from curate.detect.detectors.base import Detector, Option


class Truncated(Detector):
    """Cut answers. A call that stopped at the token limit fails only where the cut cost the
    task its answer: a label or JSON answer read intact (max_tokens hit after it was complete)
    is no failure, and neither is an unreadable answer the cut cannot explain (a prefix-mode
    output that does not begin like a label: other detectors name what is wrong with it).
    Outputs of tasks with no label or JSON to read (generation) fail whenever they were cut.
    """

    name: ClassVar[str] = "truncated"
    description: ClassVar[str] = (
        "the token limit cut the answer before it could be read, or the output is cut inside "
        "a structure"
    )
    severity: ClassVar[str] = "high"
    options: ClassVar[dict[str, Option]] = {
        "finish_reasons": Option(
            list(LIMIT_REASONS), "finish_reason values that mean the token limit was hit"
        ),
    }

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        output = pl.col("output").fill_null("")
        text = output.str.strip_chars()
        at_limit = pl.col("finish_reason").is_in(self.settings["finish_reasons"]).fill_null(False)
        at_limit = at_limit & cut_cost_the_answer(task)
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


def cut_cost_the_answer(task: Task | None) -> pl.Expr:
    """Over records that stopped at the token limit: true where the cut cost the task its
    answer, so more tokens could have given one.

    - a label task: no label was read, and the output could still have become one (prefix mode:
      it is empty or the start of a label; JSON mode: it is not complete JSON; regex mode: the
      pattern may have matched further on);
    - an extraction task (JSON, no labels): the output is not complete JSON;
    - anything else (generation, no task): always, the answer was cut.
    """
    if task is None or not (task.has_labels or task.wants_json):
        return pl.lit(True)
    if not task.has_labels:
        return ~pl.col(OUTPUT_IS_JSON)
    unread = pl.col(LABEL_STATUS).fill_null("empty") != "ok"
    if task.parse_mode == "prefix":
        folded = label_key(pl.col("output").fill_null(""), task.case_sensitive)
        return unread & folded.is_in(task.label_prefixes())
    if task.parse_mode == "json":
        return unread & ~pl.col(OUTPUT_IS_JSON)
    return unread
