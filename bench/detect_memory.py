"""Benchmark: local detect's time and peak memory at millions of records, in one call (all the
records in memory) and a partition at a time ([engine] local_partition_rows).

    python bench/detect_memory.py [--records 5000000] [--files 500]

Ingests bench/scale.py's logs once into a workspace kept in bench/_data/ (5M records: about a
minute), then runs `curate detect` on it in a child process of its own for each setting, best
of 2, and prints seconds, peak RSS and the ratio to the one call; the findings must be the same
(their hash is compared). Target (issue #29, 2 cores): peak RSS <= 2 GB at 5M records, in at
most 1.1x the time of the one call.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from ingest import DATA, measure
from scale import TOML, make_logs

SETTINGS = {
    "one call": 10**9,
    "partitions of 500k (default)": 500_000,
    "partitions of 250k": 250_000,
}


def _project(root: Path, rows: int):
    from curate.core.project import open_project

    (root / "curate.toml").write_text(TOML + f"\n[engine]\nlocal_partition_rows = {rows}\n")
    return open_project(root)


def _ingest(logs: Path, root: Path) -> None:
    from curate.ingest.stage import ingest_logs

    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ingest_logs(_project(tmp, 10**9), [str(logs / "*.jsonl")], task="claims")
    tmp.rename(root)


def run_detect(root: str, rows: str) -> int:
    """Detect in the kept workspace with this setting; the findings' hash written beside it."""
    import polars as pl

    from curate.detect.stage import find_failures

    project = _project(Path(root), int(rows))
    result = find_failures(project)
    findings = pl.read_parquet(project.workspace.table_path("findings")).write_csv()
    (Path(root) / f"findings-{rows}.sha256").write_text(
        hashlib.sha256(findings.encode()).hexdigest()
    )
    return result.records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best is kept")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    logs = DATA / f"scale_{args.records}_{args.files}"
    if not logs.exists():
        print(f"generating {args.records:,} records in {args.files} files ...", file=sys.stderr)
        make_logs(logs, args.records, args.files)
    root = DATA / f"detect_ws_{args.records}_{args.files}"
    if not root.exists():
        print(f"ingesting them into {root} ...", file=sys.stderr)
        _ingest(logs, root)
    print(f"{args.records:,} records, {os.cpu_count()} cores")
    results, hashes = {}, {}
    for name, rows in SETTINGS.items():
        # measure() hands each pipeline (path, out): here the workspace and the setting
        runs = [measure("detect", root, {"detect": _Setting(rows)}) for _ in range(args.repeat)]
        results[name] = r = min(runs, key=lambda run: run["seconds"])
        hashes[name] = (root / f"findings-{rows}.sha256").read_text()
        print(
            f"{name:>18}: {r['seconds']:6.2f} s  peak RSS {r['peak_rss_mb']:6,.0f} MB  "
            f"(best of {args.repeat})"
        )
    whole = results["one call"]["seconds"]
    for name in list(SETTINGS)[1:]:
        print(f"{name}: {results[name]['seconds'] / whole:.2f}x the one call's time")
    same = len(set(hashes.values())) == 1
    print(f"findings the same in every setting: {'yes' if same else 'NO'}")
    print("target: peak RSS <= 2048 MB at 5M records, within 1.1x the one call's time")
    if args.json:
        print(json.dumps(results))
    if not same:
        raise SystemExit(1)


class _Setting:
    """run_detect with one setting, picklable for the child process measure() starts."""

    def __init__(self, rows: int):
        self.rows = rows

    def __call__(self, root: str, out: str) -> int:
        return run_detect(root, str(self.rows))


if __name__ == "__main__":
    main()
