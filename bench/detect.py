"""Benchmark: `curate detect` (all built-in detectors) against a bare scan and plain Python.

    python bench/detect.py [--records 1000000] [--python-records N]

Writes N canonical records (an entity-matching task with JSON outputs and an output schema, a
topic classifier, and records with no task; a realistic mix of failures and a ~1.5 KB shared
system prompt) into a workspace under bench/_data/, then times in this one process:
  - scan:   a bare scan of the same Parquet, of the columns detect reads (all but `messages`,
            which no built-in detector needs: they use the `input_hash` that ingest computed)
  - curate: curate.detect.stage.find_failures with every built-in detector, findings written
  - python: bench/reference.py, the same checks one record at a time, as a user would write
            them, over the same columns (input_hash too; on --python-records records, default
            all; its rate is what is compared)
and prints records/s and the ratios. Targets (issue #3, 2 cores): curate under 5 s for 1M
records (>= 200k records/s) and at least 10x faster than the per-record Python version.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parent))
import reference

from curate.core.config import Config
from curate.core.project import Project
from curate.core.records import RECORD_SCHEMA, input_hash, input_text
from curate.core.workspace import Workspace
from curate.detect.stage import find_failures

DATA = Path(__file__).parent / "_data"
SYSTEM = "You decide whether two person records describe the same person. " * 24
SCHEMA = {
    "type": "object",
    "required": ["decision"],
    "properties": {
        "decision": {"enum": ["match", "non_match"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
TASKS = {
    "em": {
        "kind": "pair_match",
        "labels": ["match", "non_match"],
        "synonyms": {"match": ["yes", "same"], "non_match": ["no", "different"]},
        "parse": {"mode": "json", "field": "decision"},
        "output_schema": "em.schema.json",
    },
    "topic": {"kind": "classification", "labels": ["billing", "technical", "account", "other"]},
}


def make_records(n: int, seed: int = 11) -> pl.DataFrame:
    """n canonical records with planted failures, built with vectorized numpy/polars."""
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    task = rng.choice(["em", "topic", None], size=n, p=[0.7, 0.2, 0.1])
    em_truth = rng.choice(["match", "non_match"], size=n)
    wrong = rng.random(n) < 0.1
    decision = np.where(wrong, np.where(em_truth == "match", "non_match", "match"), em_truth)
    odd = rng.random(n)
    decision = np.where(odd < 0.03, "maybe", np.where(odd < 0.06, "yes", decision))
    confidence = np.round(rng.uniform(0.3, 1.0, size=n), 2)
    em_out = pl.Series(
        [
            f'{{"decision": "{d}", "confidence": {c}}}'
            for d, c in zip(decision, confidence, strict=True)
        ]
    )
    topics = np.array(["billing", "technical", "account", "other"])
    topic_truth = rng.choice(topics, size=n)
    said = np.where(rng.random(n) < 0.08, rng.choice(topics, size=n), topic_truth)
    styled = np.char.add(np.char.capitalize(said.astype(str)), ".")
    topic_text = np.where(rng.random(n) < 0.5, said, styled)
    topic_text = np.where(rng.random(n) < 0.04, "refund", topic_text)
    topic_out = pl.Series(topic_text.astype(str))
    roll = rng.random(n)
    output = pl.select(
        pl.when(pl.lit(task) == "em").then(pl.lit(em_out)).otherwise(pl.lit(topic_out)).alias("o")
    )["o"]
    broken = roll < 0.03
    output = output.scatter(
        np.flatnonzero(broken), output.filter(pl.Series(broken)).str.slice(0, 20)
    )
    refusal_rows = (roll >= 0.03) & (roll < 0.04)
    output = output.scatter(np.flatnonzero(refusal_rows), "I can't assist with that request.")
    errors = (roll >= 0.04) & (roll < 0.06)
    output = output.scatter(np.flatnonzero(errors), None)
    finish = np.where(broken & (rng.random(n) < 0.7), "length", "stop").astype(object)
    finish[errors] = None
    user = pl.Series(
        [f"Record A: person {i % (n // 3 + 1)}\nRecord B: person {(i * 7) % 1000}" for i in idx]
    )
    messages = pl.select(
        pl.concat_list(
            pl.struct(
                role=pl.lit("system"),
                content=pl.lit(SYSTEM),
                name=pl.lit(None, pl.String),
                tool_call_id=pl.lit(None, pl.String),
            ),
            pl.struct(
                role=pl.lit("user"),
                content=pl.lit(user),
                name=pl.lit(None, pl.String),
                tool_call_id=pl.lit(None, pl.String),
            ),
        ).alias("m")
    )["m"]
    reference_label = np.where(task == "em", em_truth, topic_truth)
    with_reference = rng.random(n) < 0.3
    calls_rows = rng.random(n) < 0.01
    tool_calls = [
        [{"id": "c", "name": "lookup", "arguments": '{"id": 1' if i % 2 else '{"id": 1}'}]
        if c
        else None
        for i, c in enumerate(calls_rows)
    ]
    frame = pl.DataFrame(
        {
            "record_id": [f"{i:032x}" for i in idx],
            "source_id": [f"chatcmpl-{i}" for i in idx],
            "source": "bench.jsonl",
            "source_format": "openai_chat",
            "source_line": idx + 1,
            "task": task.tolist(),
            "model": rng.choice(["gpt-4o-mini", "gpt-4.1-nano"], size=n),
            "prompt_version": rng.choice(["em@v1", "em@v2", "topic@v3"], size=n),
            "messages": messages,
            "output": output,
            "tool_calls": pl.Series(tool_calls, dtype=RECORD_SCHEMA["tool_calls"]),
            "refusal": None,
            "finish_reason": pl.Series(finish.tolist(), dtype=pl.String),
            "error": pl.Series(
                np.where(errors, "Rate limit reached", None).tolist(), dtype=pl.String
            ),
            "status_code": pl.Series(np.where(errors, 429, 200), dtype=pl.Int64),
            "feedback_score": pl.Series(
                np.where(rng.random(n) < 0.03, 0.0, None).tolist(), dtype=pl.Float64
            ),
            "reference": pl.Series(
                np.where(with_reference, reference_label, None).tolist(), dtype=pl.String
            ),
            "confidence": pl.Series(
                np.where(rng.random(n) < 0.2, confidence, None).tolist(), dtype=pl.Float64
            ),
        },
        strict=False,
    )
    frame = frame.with_columns(input_text().alias("_input")).with_columns(input_hash("_input"))
    for name, dtype in RECORD_SCHEMA.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype).alias(name))
    return frame.select(RECORD_SCHEMA.names()).cast(dict(RECORD_SCHEMA))


def prepare(n: int) -> tuple[Workspace, Config]:
    folder = DATA / f"detect_{n}"
    (folder / "em.schema.json").parent.mkdir(parents=True, exist_ok=True)
    (folder / "em.schema.json").write_text(json.dumps(SCHEMA))
    (folder / "curate.toml").write_text("")
    workspace = Workspace(folder / ".curate")
    if not workspace.parts("records"):
        print(f"generating {n:,} records ...", file=sys.stderr)
        workspace.create()
        make_records(n).write_parquet(workspace.part_path("records"))
    return workspace, Config(path=folder / "curate.toml", data={"tasks": TASKS})


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--python-records", type=int, default=None, help="default: all")
    args = parser.parse_args()
    workspace, config = prepare(args.records)
    n = args.records
    columns = [c for c in RECORD_SCHEMA.names() if c != "messages"]  # what detect reads
    _, scan = timed(lambda: workspace.scan_records().select(columns).collect())
    result, curate = timed(lambda: find_failures(Project(workspace, config)))
    limit = args.python_records or n
    tasks = {
        name: {**spec, "schema": SCHEMA if name == "em" else None} for name, spec in TASKS.items()
    }
    rows = workspace.scan_records().select(columns).head(limit).collect().to_dicts()
    _, python = timed(lambda: reference.find_all(rows, tasks))
    python_rate = limit / python
    print(
        f"records: {n:,} ({result.findings:,} findings, {result.failing_records:,} failing records)"
    )
    print(f"  scan:   {scan:6.2f} s  {n / scan:>12,.0f} records/s   (the columns detect reads)")
    print(
        f"  curate: {curate:6.2f} s  {n / curate:>12,.0f} records/s   "
        f"(all {len(result.detectors)} detectors)"
    )
    print(
        f"  python: {python:6.2f} s  {python_rate:>12,.0f} records/s   (per record, on {limit:,})"
    )
    print(f"curate / scan     = {curate / scan:.2f}x time")
    print(f"python / curate   = {(n / curate) / python_rate:.1f}x faster   (target >= 10x)")
    print(f"curate throughput = {n / curate:,.0f} records/s   (target >= 200,000; under 5 s at 1M)")


if __name__ == "__main__":
    main()
