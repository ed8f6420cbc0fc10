"""Benchmark: `curate ingest` against a bare polars pipeline and a `datasets` pipeline.

    python bench/ingest.py [--lines 1000000] [--skip-datasets]

Generates N lines of OpenAI chat logs (about 2 KB each, a long shared system prompt; cached in
bench/_data/), then runs in this one process, each pipeline in a child process of its own so
that each peak RSS is its own:
  - curate:   curate.ingest.stage.ingest_logs() into a fresh workspace
  - polars:   bare polars, streaming: scan lines, str.json_decode with a schema, select the
              same fields, sink Parquet
  - polars-inferred: the same with the dtype polars infers from the first 1,000 lines
  - polars-chunked: the same in memory a 32 MB block at a time, appended to one Parquet file
  - polars-memory: the same in memory (read the lines whole, decode, write)
  - arrow:    pyarrow's multithreaded JSON reader with the schema, the same selection, write
              (the baseline is the fastest of these; the in-memory two only under 1 GB of input)
  - datasets: datasets.load_dataset("json") + the same selection, written to Parquet
and prints rows/s, MB/s, peak RSS and the ratios. Targets (issue #11, 2 cores): curate within
1.3x of the fastest baseline, peak RSS under 1.5 GB at 1M lines; the ratio to datasets too.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

DATA = Path(__file__).parent / "_data"
SYSTEM = (
    "You are a careful assistant for an insurance company's claims desk. "
    + "Follow the policy handbook strictly, cite the section you rely on, never invent facts, "
    "and answer in JSON with the keys decision, section and reason. " * 10
)


def make_logs(path: Path, lines: int, seed: int = 7) -> None:
    """Write `lines` chat-completions log lines (request, response, timestamp, metadata)."""
    rng = random.Random(seed)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        for i in range(lines):
            claim = rng.randrange(10**6, 10**7)
            user = f"Claim {claim}: water damage in the kitchen on day {rng.randrange(1, 28)}; " * 3
            decision = rng.choice(["approve", "deny", "escalate"])
            line = {
                "timestamp": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                "latency_ms": round(rng.uniform(300, 1500), 1),
                "request": {
                    "model": "gpt-4o-mini",
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {"role": "user", "content": user},
                    ],
                },
                "response": {
                    "id": f"chatcmpl-{i:012d}{rng.getrandbits(32):08x}",
                    "object": "chat.completion",
                    "created": 1790000000 + i,
                    "model": "gpt-4o-mini-2024-07-18",
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": json.dumps(
                                    {"decision": decision, "section": "4.2", "reason": "policy"}
                                ),
                            },
                            "finish_reason": "stop" if rng.random() > 0.03 else "length",
                        }
                    ],
                    "usage": {"prompt_tokens": 420, "completion_tokens": 24},
                },
                "metadata": {"claim": claim, "desk": rng.choice(["north", "south"])},
            }
            fh.write(json.dumps(line) + "\n")
    tmp.rename(path)


def run_curate(path: str, out: str) -> int:
    from curate.core.project import Project
    from curate.core.workspace import Workspace
    from curate.ingest.stage import ingest_logs

    result = ingest_logs(Project(Workspace(Path(out) / ".curate")), [path])
    return result.ingested


def _selection(x, pl):
    """The fields every baseline takes out of a decoded line (`x`, an EXCHANGE struct)."""
    resp = x.struct.field("response")
    choice = resp.struct.field("choices").list.first()
    return [
        resp.struct.field("id").alias("source_id"),
        x.struct.field("timestamp").alias("timestamp"),
        resp.struct.field("model").alias("model"),
        x.struct.field("request").struct.field("messages").alias("messages"),
        choice.struct.field("message").struct.field("content").alias("output"),
        choice.struct.field("finish_reason").alias("finish_reason"),
        resp.struct.field("usage").struct.field("prompt_tokens").alias("prompt_tokens"),
        resp.struct.field("usage").struct.field("completion_tokens").alias("completion_tokens"),
        x.struct.field("latency_ms").alias("latency_ms"),
    ]


def _lines_options(pl) -> dict:
    """How every baseline reads a file's lines: one row each (a separator JSON cannot hold, no
    quoting), as curate splits them."""
    return {
        "has_header": False,
        "separator": "\x1f",
        "quote_char": None,
        "new_columns": ["line"],
        "schema": {"line": pl.String},
    }


def _read_lines(path: str):
    import polars as pl

    return pl.read_csv(path, **_lines_options(pl))


def run_polars_memory(path: str, out: str) -> int:
    """polars in memory: the file's lines read whole, str.json_decode with the schema."""
    import polars as pl

    from curate.ingest.formats.openai_chat import EXCHANGE

    lines = _read_lines(path)
    x = pl.col("line").str.json_decode(EXCHANGE)
    frame = lines.select(
        *_selection(x, pl), pl.col("line").str.json_path_match("$.metadata").alias("metadata")
    )
    frame.write_parquet(Path(out) / "polars.parquet")
    return frame.height


def run_polars_chunked(path: str, out: str) -> int:
    """polars in memory a block at a time: the file read in 32 MB blocks that end on a line
    break, each block's lines decoded with the schema and appended to one Parquet file."""
    import polars as pl
    import pyarrow.parquet as pq

    from curate.ingest.formats.openai_chat import EXCHANGE

    x = pl.col("line").str.json_decode(EXCHANGE)
    writer, rows, rest = None, 0, b""
    with open(path, "rb") as fh:
        while block := fh.read(32 << 20):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            block, rest = block[:cut], block[cut:]
            lines = pl.read_csv(io.BytesIO(block), **_lines_options(pl))
            frame = lines.select(
                *_selection(x, pl),
                pl.col("line").str.json_path_match("$.metadata").alias("metadata"),
            ).to_arrow()
            writer = writer or pq.ParquetWriter(Path(out) / "chunked.parquet", frame.schema)
            writer.write_table(frame)
            rows += frame.num_rows
    if writer is not None:
        writer.close()
    return rows


def run_arrow(path: str, out: str) -> int:
    """pyarrow's multithreaded JSON reader with an explicit schema (curate's decoder until
    polars 2.1 decoded faster), then the same selection in polars; the lines are read too, for
    `metadata` (as curate does: the schema has no place for free-form JSON)."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.json as pa_json

    from curate.ingest.formats.openai_chat import EXCHANGE

    def arrow_type(dtype):  # the reader makes plain (not large / view) strings and lists only
        if pa.types.is_large_list(dtype) or pa.types.is_list(dtype):
            return pa.list_(arrow_type(dtype.value_type))
        if pa.types.is_struct(dtype):
            return pa.struct([pa.field(f.name, arrow_type(f.type)) for f in dtype])
        if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
            return pa.string()
        return dtype

    exchange = pl.DataFrame(schema={"x": EXCHANGE}).to_arrow().schema.field("x").type
    table = pa_json.read_json(
        path,
        parse_options=pa_json.ParseOptions(
            explicit_schema=pa.schema(list(arrow_type(exchange))),
            unexpected_field_behavior="ignore",
        ),
    )
    decoded = pl.from_arrow(table)
    lines = _read_lines(path)
    frame = decoded.select(pl.struct(pl.all()).alias("x")).select(_selection(pl.col("x"), pl))
    frame = frame.with_columns(
        lines.select(pl.col("line").str.json_path_match("$.metadata"))["line"].alias("metadata")
    )
    frame.write_parquet(Path(out) / "arrow.parquet")
    return frame.height


def run_polars(path: str, out: str) -> int:
    """polars streaming: scan the lines, str.json_decode with the schema, sink Parquet."""
    import polars as pl

    from curate.ingest.formats.openai_chat import EXCHANGE

    x = pl.col("line").str.json_decode(EXCHANGE)
    lazy = pl.scan_csv(path, **_lines_options(pl)).select(
        *_selection(x, pl), pl.col("line").str.json_path_match("$.metadata").alias("metadata")
    )
    target = Path(out) / "polars.parquet"
    lazy.sink_parquet(target)
    return pl.scan_parquet(target).select(pl.len()).collect().item()


def run_polars_inferred(path: str, out: str) -> int:
    """polars streaming as above, but str.json_decode with the dtype polars infers from the
    file's first 1,000 lines (issue #29's pipeline): it decodes only the fields this file's
    lines have (25 here, where curate's schema holds the 117 of every shape it accepts)."""
    import polars as pl

    head = pl.read_csv(path, n_rows=1000, **_lines_options(pl))["line"]
    dtype = head.str.json_decode(infer_schema_length=1000).dtype
    x = pl.col("line").str.json_decode(dtype)
    lazy = pl.scan_csv(path, **_lines_options(pl)).select(
        *_selection(x, pl), pl.col("line").str.json_path_match("$.metadata").alias("metadata")
    )
    target = Path(out) / "polars.parquet"
    lazy.sink_parquet(target)
    return pl.scan_parquet(target).select(pl.len()).collect().item()


def run_datasets(path: str, out: str) -> int:
    import datasets

    datasets.disable_progress_bars()
    ds = datasets.load_dataset("json", data_files=path, split="train", cache_dir=out)

    def select(batch):
        responses = batch["response"]
        requests = batch["request"]
        return {
            "source_id": [r["id"] for r in responses],
            "model": [r["model"] for r in responses],
            "messages": [r["messages"] for r in requests],
            "output": [r["choices"][0]["message"]["content"] for r in responses],
            "finish_reason": [r["choices"][0]["finish_reason"] for r in responses],
            "prompt_tokens": [r["usage"]["prompt_tokens"] for r in responses],
            "completion_tokens": [r["usage"]["completion_tokens"] for r in responses],
            "metadata": [json.dumps(m) for m in batch["metadata"]],
        }

    ds = ds.map(select, batched=True, remove_columns=ds.column_names)
    ds.to_parquet(str(Path(out) / "datasets.parquet"))
    return len(ds)


PIPELINES = {
    "curate": run_curate,
    "polars": run_polars,
    "polars-inferred": run_polars_inferred,
    "polars-chunked": run_polars_chunked,
    "polars-memory": run_polars_memory,
    "arrow": run_arrow,
    "datasets": run_datasets,
}
BASELINES = ("polars", "polars-inferred", "polars-chunked", "polars-memory", "arrow")
IN_MEMORY = ("polars-memory", "arrow")  # the fastest of these is the baseline


def _child(pipeline, path: str, out: str, queue) -> None:
    start = time.perf_counter()
    rows = pipeline(path, out)
    queue.put((rows, time.perf_counter() - start))


def measure(name: str, path: Path, pipelines: dict | None = None) -> dict:
    """Run one pipeline (by name, of `pipelines`, default PIPELINES) in a fresh child process:
    rows, seconds, peak RSS of that child."""
    pipeline = (pipelines or PIPELINES)[name]
    ctx = get_context("spawn")
    queue = ctx.Queue()
    out = tempfile.mkdtemp(prefix=f"bench-{name}-", dir=DATA)
    try:
        proc = ctx.Process(target=_child, args=(pipeline, str(path), out, queue))
        proc.start()
        _, status, usage = os.wait4(proc.pid, 0)
        if status != 0:
            raise SystemExit(f"{name} pipeline failed (status {status})")
        rows, seconds = queue.get()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024}


MEMORY_LIMIT_MB = 1_000  # the in-memory baselines hold ~8x their input: above this, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    parser.add_argument("--skip-datasets", action="store_true", help="it is the slow one")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    DATA.mkdir(exist_ok=True)
    path = DATA / f"chat_{args.lines}.jsonl"
    if not path.exists():
        print(f"generating {args.lines:,} lines into {path} ...", file=sys.stderr)
        make_logs(path, args.lines)
    size_mb = path.stat().st_size / 1e6
    print(f"input: {path.name}, {args.lines:,} lines, {size_mb:,.0f} MB, {os.cpu_count()} cores")
    baselines = list(BASELINES)
    if size_mb > MEMORY_LIMIT_MB:
        baselines = [name for name in baselines if name not in IN_MEMORY]
        print(f"(skipped {', '.join(IN_MEMORY)}: over {MEMORY_LIMIT_MB:,} MB they do not fit)")
    names = [*baselines, "curate"] + ([] if args.skip_datasets else ["datasets"])
    results = {}
    for name in names:
        repeat = 1 if name == "datasets" else args.repeat
        runs = [measure(name, path) for _ in range(repeat)]
        results[name] = r = min(runs, key=lambda run: run["seconds"])
        print(
            f"{name:>15}: {r['seconds']:7.2f} s  {r['rows'] / r['seconds']:>10,.0f} rows/s  "
            f"{size_mb / r['seconds']:7.1f} MB/s  peak RSS {r['peak_rss_mb']:7.0f} MB  "
            f"({r['rows']:,} rows, best of {repeat})"
        )
    fastest = min(baselines, key=lambda name: results[name]["seconds"])
    base = results[fastest]["seconds"]
    curate = results["curate"]["seconds"]
    print(f"baseline: {fastest}, the fastest of {', '.join(baselines)}")
    print(f"curate / baseline = {curate / base:.2f}x time   (target <= 1.3x)")
    if "datasets" in results:
        ratio = results["datasets"]["seconds"] / curate
        print(f"datasets / curate = {ratio:.2f}x time   (an earlier target: >= 3x)")
    rss = results["curate"]["peak_rss_mb"]
    print(f"curate peak RSS   = {rss:.0f} MB   (target < 1500 MB at 1M lines)")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
