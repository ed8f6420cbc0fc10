"""Benchmark: `curate ingest --map` of a table (CSV, JSONL, Parquet) against polars' own reader
of the same file plus the same selection.

    python bench/tables.py [--rows 1000000] [--kinds csv,jsonl,parquet]

Writes one table of N rows (an id, a question with commas and quotes in 1 of 4, an answer, a
label, a model, a time, two columns curate keeps as metadata; cached in bench/_data/) as CSV,
JSONL and Parquet, then runs, each in a child process of its own (best of 3):
  - curate:   ingest_logs() with --map id=id input=question output=answer reference=label
              model=model timestamp=ts, into a fresh workspace
  - polars:   pl.read_csv / pl.read_ndjson / pl.read_parquet, the mapped columns selected and
              renamed, the rest as one JSON column, written to Parquet
and prints the ratio for each kind. Target (issue #29, 2 cores): curate within 1.5x of polars,
ragged and undecodable rows still quarantined with their file line (tests/ingest/formats/
test_table.py checks that).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

from ingest import DATA, measure

MAP = {
    "id": "id",
    "input": "question",
    "output": "answer",
    "reference": "label",
    "model": "model",
    "timestamp": "ts",
}
KINDS = ("csv", "jsonl", "parquet")


def make_table(stem: Path, rows: int, seed: int = 7) -> None:
    import polars as pl

    rng = random.Random(seed)
    labels = ["billing", "outage", "refund", "login"]
    frame = pl.DataFrame(
        {
            "id": [f"t{i}" for i in range(rows)],
            "question": [
                f'Ticket {i}: "cannot log in", says the customer, since {rng.randrange(1, 28)} May'
                if i % 4 == 0
                else f"Ticket {i}: the invoice for order {rng.randrange(10**6)} is wrong"
                for i in range(rows)
            ],
            "answer": [rng.choice(labels) for _ in range(rows)],
            "label": [rng.choice(labels) for _ in range(rows)],
            "model": ["gpt-4o-mini"] * rows,
            "ts": [f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:00:00Z" for i in range(rows)],
            "desk": [rng.choice(["north", "south"]) for _ in range(rows)],
            "priority": [rng.randrange(1, 5) for _ in range(rows)],
        }
    )
    frame.write_csv(stem.with_suffix(".csv"))
    frame.write_ndjson(stem.with_suffix(".jsonl"))
    frame.write_parquet(stem.with_suffix(".parquet"))


def run_curate(path: str, out: str) -> int:
    from curate.core.project import Project
    from curate.core.workspace import Workspace
    from curate.ingest.stage import ingest_logs

    result = ingest_logs(Project(Workspace(Path(out) / ".curate")), [path], field_map=MAP)
    return result.ingested


def run_polars(path: str, out: str) -> int:
    import polars as pl

    read = {".csv": pl.read_csv, ".jsonl": pl.read_ndjson, ".parquet": pl.read_parquet}
    frame = read[Path(path).suffix](path)
    mapped = [pl.col(column).alias(field) for field, column in MAP.items()]
    rest = [c for c in frame.columns if c not in MAP.values()]
    frame = frame.select(*mapped, pl.struct(rest).struct.json_encode().alias("metadata"))
    frame.write_parquet(Path(out) / "polars.parquet")
    return frame.height


PIPELINES = {"polars": run_polars, "curate": run_curate}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    stem = DATA / f"table_{args.rows}"
    if not stem.with_suffix(".parquet").exists():
        print(f"writing a table of {args.rows:,} rows into {stem}.* ...", file=sys.stderr)
        make_table(stem, args.rows)
    print(f"input: a table of {args.rows:,} rows, {os.cpu_count()} cores")
    results: dict[str, dict] = {}
    for kind in args.kinds.split(","):
        path = stem.with_suffix(f".{kind}")
        size_mb = path.stat().st_size / 1e6
        for name in PIPELINES:
            runs = [measure(name, path, PIPELINES) for _ in range(args.repeat)]
            results[f"{kind}/{name}"] = r = min(runs, key=lambda run: run["seconds"])
            print(
                f"{kind:>8} {name:>7}: {r['seconds']:6.2f} s  {r['rows'] / r['seconds']:>10,.0f} "
                f"rows/s  {size_mb:5.0f} MB  peak RSS {r['peak_rss_mb']:6.0f} MB  "
                f"(best of {args.repeat})"
            )
        ratio = results[f"{kind}/curate"]["seconds"] / results[f"{kind}/polars"]["seconds"]
        print(f"{kind:>8} curate / polars = {ratio:.2f}x time   (target <= 1.5x)")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
