"""Benchmark: `curate pull` from a local Phoenix server, against baselines in the same process.

    make phoenix-up && python bench/pull.py [--spans 10000]

Sends N GenAI spans to the Phoenix at 127.0.0.1:6016 (the OpenTelemetry SDK over OTLP/HTTP, one
new project per run), waits until Phoenix has stored them, then times, best of 3 each:

- curate: `pull` into a new workspace (pages of 1,000, each read by the otel format and
  committed with its cursor);
- fetch: the floor, bare httpx paging the same endpoint and decoding the JSON, nothing else;
- export + ingest: what a user does without `pull`: the same fetch, the spans written to an
  OTLP JSON lines file, then `curate ingest` of it.

Prints records/s for each and curate's time as a ratio of each baseline's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson

from curate.core.config import load_config
from curate.core.project import Project
from curate.core.workspace import Workspace
from curate.ingest.pull import pull
from curate.ingest.pull.phoenix import otlp_item
from curate.ingest.stage import ingest_logs

PHOENIX = "http://127.0.0.1:6016"


def send(project: str, n: int) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"openinference.project.name": project}))
    exporter = OTLPSpanExporter(endpoint=f"{PHOENIX}/v1/traces")
    processor = BatchSpanProcessor(exporter, max_queue_size=n + 1, max_export_batch_size=512)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    system = "You match records. " * 40  # a production-sized system prompt
    for i in range(n):
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": system}]),
                    "gen_ai.input.messages": json.dumps(
                        [
                            {
                                "role": "user",
                                "parts": [{"type": "text", "content": f"Record {i}: A vs B?"}],
                            }
                        ]
                    ),
                    "gen_ai.output.messages": json.dumps(
                        [{"role": "assistant", "parts": [{"type": "text", "content": "match"}]}]
                    ),
                    "gen_ai.usage.input_tokens": 120,
                    "gen_ai.usage.output_tokens": 3,
                }
            )
    provider.shutdown()


def fetch(project: str) -> list[dict]:
    spans, cursor = [], None
    with httpx.Client(base_url=PHOENIX, timeout=120) as client:
        while True:
            params = {"sort": "id", "order": "asc", "limit": 1000}
            if cursor:
                params["cursor"] = cursor
            answer = orjson.loads(
                client.get(f"/v1/projects/{project}/spans", params=params).content
            )
            spans += answer["data"]
            cursor = answer.get("next_cursor")
            if not cursor:
                return spans


def wait(project: str, n: int) -> None:
    deadline = time.monotonic() + 600
    while len(_fetched(project)) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"Phoenix did not store {n} spans in 10 minutes")
        time.sleep(1)


def _fetched(project: str) -> list[dict]:
    try:
        return fetch(project)
    except (orjson.JSONDecodeError, KeyError):  # the project is not there yet
        return []


def project_at(root: Path, name: str) -> Project:
    root.mkdir(parents=True)
    toml = root / "curate.toml"
    toml.write_text(f'[[pulls]]\nkind = "phoenix"\nbase_url = "{PHOENIX}"\nproject = "{name}"\n')
    return Project(Workspace(root / ".curate", toml), load_config(toml))


def best(runs: int, fn) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--project", help="a project of an earlier run: its spans, not sent again")
    args = parser.parse_args()
    name = args.project or f"bench-{uuid.uuid4().hex[:8]}"
    if not args.project:
        started = time.perf_counter()
        send(name, args.spans)
        wait(name, args.spans)
        took = time.perf_counter() - started
        print(f"{args.spans:,} spans sent to Phoenix project {name}, stored in {took:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        counter = iter(range(1000))

        def curate_pull():
            (result,) = pull(project_at(root / f"pull-{next(counter)}", name))
            assert result.ingested == args.spans, result
            return result

        def export_and_ingest():
            path = root / f"export-{next(counter)}.jsonl"
            path.write_bytes(b"".join(orjson.dumps(otlp_item(s)) + b"\n" for s in fetch(name)))
            other = Project(Workspace(root / f"ws-{next(counter)}"), load_config(None))
            done = ingest_logs(other, [path], format_name="otel")
            assert done.ingested == args.spans
            return done

        t_pull, _ = best(args.runs, curate_pull)
        t_fetch, _ = best(args.runs, lambda: fetch(name))
        t_export, _ = best(args.runs, export_and_ingest)
    n = args.spans
    rows = [
        ("curate pull", t_pull, ""),
        ("fetch only (the floor)", t_fetch, f"pull / fetch = {t_pull / t_fetch:.2f}x"),
        ("export + ingest", t_export, f"pull / export+ingest = {t_pull / t_export:.2f}x"),
    ]
    for label, seconds, ratio in rows:
        print(f"{label:24} {seconds:7.2f} s {n / seconds:9,.0f} records/s  {ratio}")


if __name__ == "__main__":
    main()
