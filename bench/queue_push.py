"""Benchmark: `curate queue push` against a bare argilla SDK `dataset.records.log`, then a pull.

    make stack-up && python bench/queue_push.py [--records 10000]

(Not bench/queue.py: run as a script, that name would shadow the standard library's queue.)

Builds a workspace of realistic candidates: entity pairs generated as the bundled sample is
(scripts/make_sample_data.py, with more pairs), ingested, detected and balanced, so that the
records carry the pair table and the detectors' evidence. Then, against the running local
Argilla stack, in this one process:
  - sdk:    the same Argilla records (built as curate builds them, outside the timer) logged
            with `dataset.records.log` into a fresh dataset: the baseline;
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

from curate.core.config import Config
from curate.core.project import Project
from curate.core.tasks import load_tasks
from curate.core.workspace import Workspace
from curate.queue.argilla import connect, render_record, settings_for, to_argilla_record
from curate.queue.stage import candidate_rows, pull_queue, push_queue

DATA = Path(__file__).parent / "_data"
SAMPLE = Path(__file__).parents[1] / "sample_data"
SCRIPTS = Path(__file__).parents[1] / "scripts"


def prepare(n: int) -> tuple[Workspace, Config]:
    """A workspace whose candidates are `n` balanced entity pairs (with findings)."""
    import importlib.util
    import random
    import shutil

    from curate.balance.stage import BalanceSettings, balance_candidates
    from curate.core.config import load_config
    from curate.detect.stage import find_failures
    from curate.ingest.stage import ingest_logs

    folder = DATA / f"queue_pairs_{n}"
    workspace = Workspace(folder / ".curate", folder / "curate.toml")
    if not (workspace.root / "candidates.parquet").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for name in ("curate.toml", "entity_match_output.schema.json"):
            shutil.copy(SAMPLE / name, folder / name)
        spec = importlib.util.spec_from_file_location(
            "make_sample", SCRIPTS / "make_sample_data.py"
        )
        make_sample = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(make_sample)
        make_sample.N_PAIRS = n * 2  # balance keeps about half: the failures and some controls
        lines, references = make_sample.entity_lines(random.Random(7))
        (folder / "pairs.jsonl").write_text("\n".join(lines) + "\n")
        make_sample.write_csv(folder / "references.csv", references)
        config = load_config(folder / "curate.toml")
        ingest_logs(
            Project(workspace, config),
            [folder / "pairs.jsonl"],
            task="entity_match",
            references=folder / "references.csv",
        )
        find_failures(Project(workspace, config))
        settings = BalanceSettings(target=n, controls=0.5, max_per_cluster=5, task="entity_match")
        balance_candidates(Project(workspace, config), settings)
    return workspace, load_config(folder / "curate.toml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    workspace, config = prepare(args.records)
    import argilla as rg

    client = connect(config).client
    task = load_tasks(config)["entity_match"]
    candidates = pl.read_parquet(workspace.root / "candidates.parquet")
    findings = pl.read_parquet(workspace.root / "findings.parquet")
    rows = candidate_rows(workspace, candidates, findings).to_dicts()
    records = [to_argilla_record(render_record(row, task)) for row in rows]
    with_findings = sum(1 for row in rows if row.get("evidence"))
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
    pushed = push_queue(Project(workspace, config), task="entity_match", dataset=name)[0].pushed
    curate = time.perf_counter() - start
    start = time.perf_counter()
    pull_queue(Project(workspace, config), task="entity_match", dataset=name)
    pull = time.perf_counter() - start
    n = len(records)
    print(f"records: {n:,} entity pairs, {with_findings:,} with findings (pushed {pushed:,})")
    print(f"  sdk log:     {sdk:7.2f} s  {n / sdk:8,.0f} records/s")
    print(f"  curate push: {curate:7.2f} s  {n / curate:8,.0f} records/s")
    print(f"  curate pull: {pull:7.2f} s  {n / pull:8,.0f} records/s")
    print(f"curate push / sdk log = {curate / sdk:.2f}x time   (target <= 1.2x)")
    baseline.delete()


if __name__ == "__main__":
    main()
