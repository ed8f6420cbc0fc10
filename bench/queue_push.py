"""Benchmark: `curate queue push` against a bare argilla SDK `dataset.records.log`, then a pull.

    make stack-up && python bench/queue_push.py [--records 10000]

(Not bench/queue.py: run as a script, that name would shadow the standard library's queue.)

Builds a workspace of N candidates (bench/detect.py's records), then, against the running local
Argilla stack, in this one process:
  - sdk:    the same Argilla records (built as curate builds them) logged with
            `dataset.records.log` into a fresh dataset: the baseline;
  - curate: push_queue into another fresh dataset (reads the tables, builds the records,
            checks for answered ones, logs in batches);
  - pull:   pull_queue of that dataset.
Prints records/s and the ratio. Target (issue #5): curate push no slower than 1.2x the SDK.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
import warnings
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
from detect import TASKS, make_records

from curate.config import Config
from curate.detectors import FINDINGS_SCHEMA
from curate.queue import (
    _record,
    connect,
    pull_queue,
    push_queue,
    settings_for,
    to_argilla_record,
)
from curate.tasks import load_tasks
from curate.workspace import Workspace

DATA = Path(__file__).parent / "_data"


def prepare(n: int) -> tuple[Workspace, Config]:
    folder = DATA / f"queue_{n}"
    workspace = Workspace(folder / ".curate")
    config = Config(data={"tasks": {"topic": TASKS["topic"]}})
    if not workspace.parts("records"):
        workspace.create()
        records = make_records(n).with_columns(pl.lit("topic").alias("task"))
        records.write_parquet(workspace.part_path("records"))
        FINDINGS_SCHEMA.to_frame().write_parquet(workspace.root / "findings.parquet")
        candidates = records.select(
            "record_id",
            "task",
            pl.lit("billing").alias("class"),
            pl.lit("control").alias("failure_type"),
            pl.lit("none").alias("edge_case"),
            pl.lit("billing x control x none").alias("stratum"),
            pl.col("record_id").alias("cluster_id"),
            pl.lit(True).alias("is_control"),
            pl.lit("control").alias("selected_by"),
            pl.int_range(1, pl.len() + 1).alias("rank"),
        )
        candidates.write_parquet(workspace.root / "candidates.parquet")
    return workspace, config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    workspace, config = prepare(args.records)
    import argilla as rg

    client = connect(config).client
    task = load_tasks(config)["topic"]
    rows = (
        workspace.scan_records()
        .collect()
        .join(pl.read_parquet(workspace.root / "candidates.parquet"), on=["record_id", "task"])
        .to_dicts()
    )
    records = [to_argilla_record(_record(row, task)) for row in rows]
    baseline = rg.Dataset(
        name=f"bench-sdk-{uuid.uuid4().hex[:6]}", settings=settings_for(task, 1), client=client
    )
    baseline.create()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        baseline.records.log(records, batch_size=500)
    sdk = time.perf_counter() - start

    name = f"bench-curate-{uuid.uuid4().hex[:6]}"
    start = time.perf_counter()
    pushed = push_queue(workspace, config, task="topic", dataset=name)[0].pushed
    curate = time.perf_counter() - start
    start = time.perf_counter()
    pull_queue(workspace, config, task="topic", dataset=name)
    pull = time.perf_counter() - start
    n = len(records)
    print(f"records: {n:,} (pushed {pushed:,})")
    print(f"  sdk log:     {sdk:7.2f} s  {n / sdk:8,.0f} records/s")
    print(f"  curate push: {curate:7.2f} s  {n / curate:8,.0f} records/s")
    print(f"  curate pull: {pull:7.2f} s  {n / pull:8,.0f} records/s")
    print(f"curate push / sdk log = {curate / sdk:.2f}x time   (target <= 1.2x)")
    baseline.delete()


if __name__ == "__main__":
    main()
