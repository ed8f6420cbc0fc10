"""Benchmark: `curate ingest` of many small files against bare polars over the same files.

    python bench/small_files.py [--files 2000] [--lines 10]

Writes N files of L OpenAI chat lines each (the lines of bench/ingest.py; cached in
bench/_data/), then runs, each pipeline in a child process of its own (best of 3):
  - curate:       curate.ingest.stage.ingest_logs() over the files into a fresh workspace
  - polars-scan:  polars streaming over the list of files: scan the lines, str.json_decode
                  with the schema, the same selection, sink Parquet
  - polars-concat: every file read in Python into one buffer, then the lines decoded at once
                  in memory, the same selection, written (the baseline is the faster of these)
and prints seconds, files/s and the ratio. Target (issue #29, 2 cores): 2,000 files of 10 lines
in at most 10 s, with the same manifest entries and accounting as files read one by one
(tests/ingest/test_packs.py checks that).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

from ingest import DATA, _lines_options, _selection, make_logs, measure


def make_files(folder: Path, files: int, lines: int) -> None:
    whole = folder.with_suffix(".jsonl")
    make_logs(whole, files * lines)
    rows = whole.read_text().splitlines(keepends=True)
    tmp = folder.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (tmp / f"log-{i:05d}.jsonl").write_text("".join(rows[i * lines : (i + 1) * lines]))
    tmp.rename(folder)
    whole.unlink()


def _files(folder: str) -> list[str]:
    return sorted(str(p) for p in Path(folder).glob("*.jsonl"))


def run_curate(folder: str, out: str) -> int:
    from curate.core.project import Project
    from curate.core.workspace import Workspace
    from curate.ingest.stage import ingest_logs

    result = ingest_logs(Project(Workspace(Path(out) / ".curate")), _files(folder))
    assert len(result.sources) == len(_files(folder))
    return result.ingested


def _frame(lines, pl):
    from curate.ingest.formats.openai_chat import EXCHANGE

    x = pl.col("line").str.json_decode(EXCHANGE)
    return lines.select(
        *_selection(x, pl), pl.col("line").str.json_path_match("$.metadata").alias("metadata")
    )


def run_polars_scan(folder: str, out: str) -> int:
    import polars as pl

    target = Path(out) / "polars.parquet"
    _frame(pl.scan_csv(_files(folder), **_lines_options(pl)), pl).sink_parquet(target)
    return pl.scan_parquet(target).select(pl.len()).collect().item()


def run_polars_concat(folder: str, out: str) -> int:
    import polars as pl

    buffer = b"".join(Path(path).read_bytes() for path in _files(folder))
    frame = _frame(pl.read_csv(io.BytesIO(buffer), **_lines_options(pl)), pl)
    frame.write_parquet(Path(out) / "polars.parquet")
    return frame.height


PIPELINES = {
    "polars-scan": run_polars_scan,
    "polars-concat": run_polars_concat,
    "curate": run_curate,
}
BASELINES = ("polars-scan", "polars-concat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=10, help="lines per file")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    folder = DATA / f"small_{args.files}x{args.lines}"
    if not folder.exists():
        print(
            f"writing {args.files:,} files of {args.lines} lines into {folder} ...", file=sys.stderr
        )
        make_files(folder, args.files, args.lines)
    print(f"input: {args.files:,} files of {args.lines} lines, {os.cpu_count()} cores")
    results = {}
    for name in PIPELINES:
        runs = [measure(name, folder, PIPELINES) for _ in range(args.repeat)]
        results[name] = r = min(runs, key=lambda run: run["seconds"])
        print(
            f"{name:>13}: {r['seconds']:6.2f} s  {args.files / r['seconds']:>8,.0f} files/s  "
            f"peak RSS {r['peak_rss_mb']:6.0f} MB  ({r['rows']:,} rows, best of {args.repeat})"
        )
    fastest = min(BASELINES, key=lambda name: results[name]["seconds"])
    curate = results["curate"]["seconds"]
    print(f"baseline: {fastest}, the faster of {', '.join(BASELINES)}")
    print(f"curate / baseline = {curate / results[fastest]['seconds']:.2f}x time")
    print(
        f"curate: {curate:.2f} s for {args.files:,} files   (target <= 10 s for 2,000 of 10 lines)"
    )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
