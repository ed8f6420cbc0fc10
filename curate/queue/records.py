"""The candidates as a person sees them in the queue: the record's input and output, the
detectors' evidence and the judge's answer (`candidate_rows`), and the gold records seeded among
them (`gold_rows`)."""

from __future__ import annotations

import random

import polars as pl

from curate.core.suggestions import latest_suggestions
from curate.core.tasks import Task
from curate.core.tool_calls import shown_output
from curate.core.workspace import Workspace


def gold_rows(workspace, task: Task, mine, known, pushed: int, findings) -> pl.DataFrame:
    """[tasks.NAME.queue] gold_share: a seeded share of the records trusted references answer,
    pushed among the others so that annotators' accuracy is measured on them (core/suspicion's
    gold). Nothing gives them away: their class is the label read from the output, as for any
    record without a reference, so neither the metadata nor the suggestion is the reference."""
    share = float(task.queue.get("gold_share", 0) or 0)
    pool = mine.filter(pl.col("record_id").is_in(known.implode()))["record_id"].sort()
    if not share or pool.len() == 0:
        return pl.DataFrame()
    want = min(pool.len(), max(1, round(share * pushed / max(1 - share, 1e-9))))
    chosen = random.Random(f"gold:{task.name}").sample(pool.to_list(), want)
    rows = candidate_rows(workspace, mine.filter(pl.col("record_id").is_in(chosen)), findings)
    read = workspace.read_table("labels", empty=True).select("record_id", "label")
    return rows.drop("class").join(read.rename({"label": "class"}), on="record_id", how="left")


def candidate_rows(
    workspace: Workspace, candidates: pl.DataFrame, findings: pl.DataFrame
) -> pl.DataFrame:
    """The candidates with what a person sees of them: the record's input and output, and the
    detectors' evidence (`_record` turns each row into a queue record)."""
    # an answer that is tool calls is shown (and corrected) as their JSON (core/tool_calls.py)
    output = pl.struct("output", "tool_calls").map_elements(
        lambda r: shown_output(r["output"], r["tool_calls"]), return_dtype=pl.String
    )
    columns = ("record_id", "messages", output.alias("output"), "metadata", "model")
    records = workspace.records_of(candidates, *columns, "prompt_version").join(
        candidates, on="record_id"
    )
    evidence = (
        findings.filter(pl.col("record_id").is_in(candidates["record_id"].implode()))
        .group_by("record_id")
        .agg(
            pl.col("detector"),
            (pl.lit("- **") + pl.col("detector") + pl.lit("**: ") + pl.col("evidence"))
            .str.join("\n")
            .alias("evidence"),  # unnamed, the column would be "literal" and never shown
        )
    )
    judge = latest_suggestions(workspace).select(
        "record_id",
        pl.col("label").alias("judge_label"),
        pl.col("corrected_output").alias("judge_output"),
        pl.col("score").alias("judge_score"),
        pl.col("model").alias("judge_model"),
    )
    return records.join(evidence, on="record_id", how="left").join(
        judge, on="record_id", how="left"
    )
