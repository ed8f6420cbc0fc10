"""Benchmark: ingest + detect of millions of records on the local engine, Daft on this machine,
and Daft on a local Ray cluster (a head and a worker, one CPU each).

    python bench/scale.py [--records 5000000] [--files 500] [--json]

Generates `--records` compact chat-completions log lines (about 560 bytes each: a short
system prompt, JSON answers, some broken, cut at the length limit, refused, or answered
differently for the same input) in `--files` JSONL files under bench/_data/ (5M records:
2.8 GB of logs, kept for the next run). Then runs, each in a child process of its own so
that each is measured alone:
  - local: `curate ingest 'DIR/*.jsonl'` then `curate detect`, polars on this machine
           (the baseline)
  - daft:  the same with --engine daft, Daft's native runner on all cores
  - ray:   the same with --engine daft --ray-address, on the cluster scripts/ray_cluster.sh
           starts (started and stopped here if none runs)
and prints, per run: seconds and records/s of ingest and of detect, the peak RSS of the
driver and of the largest other process of the run (Daft's or Ray's workers: all of it, and
what is private to it, without the object store's shared pages), and the ratio to the local
engine. Every run's findings must be the same (their hash is compared).
Targets (issue #16, 2 cores): Daft local within 1.2x of the local engine; peak RSS of each
worker (private) under WORKER_RSS_BOUND_MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "_data"
RAY_ADDRESS = "127.0.0.1:6390"
WORKER_RSS_BOUND_MB = 2048
SYSTEM = "Decide the claim: approve, deny or escalate. Answer in JSON with decision and reason."
TOML = """\
[tasks.claims]
kind = "classification"
labels = ["approve", "deny", "escalate"]

[tasks.claims.parse]
mode = "json"
field = "decision"
"""


def make_logs(folder: Path, records: int, files: int, seed: int = 16) -> None:
    """`records` log lines over `files` files. Inputs repeat (a claim is asked about about
    twice), so the same input can get different answers."""
    rng = random.Random(seed)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    per_file = -(-records // files)
    claims = max(1, records // 2)
    for f in range(files):
        lines = []
        for i in range(f * per_file, min(records, (f + 1) * per_file)):
            claim = rng.randrange(claims)
            roll = rng.random()
            # mostly one answer per claim; one call in 25 answers otherwise
            decision = ["approve", "deny", "escalate"][(claim * 7 + (rng.random() < 0.04)) % 3]
            content: str | None = json.dumps({"decision": decision, "reason": "section 4.2"})
            finish = "stop"
            if roll < 0.03:
                content, finish = content[:19], "length"
            elif roll < 0.05:
                content = "I can't help with that claim."
            elif roll < 0.07:
                content = json.dumps({"decision": "maybe", "reason": "unclear"})
            line = {
                "timestamp": f"2026-10-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                "latency_ms": round(rng.uniform(300, 1500), 1),
                "request": {
                    "model": "gpt-4o-mini",
                    "messages": [
                        {"role": "system", "content": SYSTEM},
                        {
                            "role": "user",
                            "content": f"Claim {claim}: water damage, day {claim % 28}",
                        },
                    ],
                },
                "response": {
                    "id": f"chatcmpl-{i:012d}",
                    "object": "chat.completion",
                    "created": 1790000000 + i,
                    "model": "gpt-4o-mini-2024-07-18",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": finish,
                        }
                    ],
                    "usage": {"prompt_tokens": 42, "completion_tokens": 12},
                },
            }
            lines.append(json.dumps(line))
        (tmp / f"calls-{f:05d}.jsonl").write_text("\n".join(lines) + "\n")
    tmp.rename(folder)


# -- one run, in its own process ----------------------------------------------------------------
def run(kind: str, logs: Path, out: Path) -> dict:
    """ingest + detect with one engine; timings and the findings' hash, as JSON on stdout."""
    from curate.core.project import open_project
    from curate.detect.stage import find_failures
    from curate.ingest.stage import ingest_logs

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "curate.toml").write_text(TOML)
    project = open_project(out)
    engine = project.engine(
        "local" if kind == "local" else "daft", RAY_ADDRESS if kind == "ray" else None
    )
    start = time.perf_counter()
    ingested = ingest_logs(project, [str(logs / "*.jsonl")], task="claims", engine=engine)
    ingest_s = time.perf_counter() - start
    start = time.perf_counter()
    detected = find_failures(project, engine=engine)
    detect_s = time.perf_counter() - start
    findings = project.workspace.table_path("findings")
    import polars as pl

    digest = hashlib.sha256(
        pl.read_parquet(findings).write_csv().encode()
    ).hexdigest()  # the table's content, not its file's bytes
    return {
        "records": ingested.ingested,
        "quarantined": ingested.quarantined,
        "findings": detected.findings,
        "findings_sha256": digest,
        "ingest_s": ingest_s,
        "detect_s": detect_s,
    }


# -- measuring -------------------------------------------------------------------------------
def _rss_mb(pid: int) -> tuple[float, float]:
    """(resident, resident and private) MB of a process. The second leaves out shared memory:
    pages of Ray's object store (bounded on its own, 512 MB a node here) that a worker maps."""
    rss = anon = 0.0
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) / 1024
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1]) / 1024
    except OSError:
        pass
    return rss, anon


def _ray_workers() -> set[int]:
    """Processes of Ray's workers and raylets on this machine."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"ray::" in cmd or b"default_worker.py" in cmd:
                found.add(int(entry))
    return found


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def measure(kind: str, logs: Path) -> dict:
    out = DATA / f"scale_ws_{kind}"
    env = os.environ | {"RAY_AUTH_MODE": "token", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--run", kind, "--logs", str(logs), "--out", str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    peaks: dict[int, tuple[float, float]] = {}
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            ray = _ray_workers() if kind == "ray" else set()
            for pid in {proc.pid} | _descendants(proc.pid) | ray:
                rss, anon = _rss_mb(pid)
                old = peaks.get(pid, (0.0, 0.0))
                peaks[pid] = (max(old[0], rss), max(old[1], anon))
            time.sleep(0.2)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    stdout, _ = proc.communicate()
    done.set()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"the {kind} run failed (status {proc.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    others = {p: mb for p, mb in peaks.items() if p != proc.pid}
    result["driver_peak_rss_mb"] = round(peaks.get(proc.pid, (0.0, 0.0))[0])
    result["worker_peak_rss_mb"] = round(max((r for r, _ in others.values()), default=0.0))
    result["worker_peak_private_mb"] = round(max((a for _, a in others.values()), default=0.0))
    result["workers_seen"] = len(others)
    shutil.rmtree(out, ignore_errors=True)
    return result


def ray_cluster_up() -> bool:
    """Start the local cluster unless one answers; whether this run started it."""
    import socket

    host, port = RAY_ADDRESS.split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return False
    except OSError:
        subprocess.run([str(REPO / "scripts" / "ray_cluster.sh"), "up"], check=True)
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--runs", default="local,daft,ray", help="which, comma-separated")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # a child: one run
    parser.add_argument("--logs", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run(args.run, Path(args.logs), Path(args.out))))
        return

    logs = DATA / f"scale_{args.records}_{args.files}"
    if not logs.is_dir():
        print(f"generating {args.records:,} records in {args.files} files ...", file=sys.stderr)
        make_logs(logs, args.records, args.files)
    size = sum(p.stat().st_size for p in logs.glob("*.jsonl"))
    print(f"{args.records:,} records, {args.files} files, {size / 1e9:.2f} GB of logs")
    kinds = args.runs.split(",")
    started = False
    results: dict[str, dict] = {}
    try:
        for kind in kinds:
            if kind == "ray":  # not before: its idle processes would share the other runs' cores
                started = ray_cluster_up()
            results[kind] = measure(kind, logs)
            r = results[kind]
            print(
                f"{kind:>6}: ingest {r['ingest_s']:7.1f} s ({r['records'] / r['ingest_s']:9,.0f}"
                f" rec/s)  detect {r['detect_s']:6.1f} s ({r['records'] / r['detect_s']:9,.0f}"
                f" rec/s)  peak RSS driver {r['driver_peak_rss_mb']:,} MB, largest worker "
                f"{r['worker_peak_rss_mb']:,} MB ({r['worker_peak_private_mb']:,} MB private; "
                f"{r['workers_seen']} processes)",
                flush=True,
            )
    finally:
        if started:
            subprocess.run([str(REPO / "scripts" / "ray_cluster.sh"), "down"], check=False)
    base = results.get("local")
    ok = True
    for kind, r in results.items():
        if base is not None:
            r["ingest_ratio"] = round(r["ingest_s"] / base["ingest_s"], 2)
            r["detect_ratio"] = round(r["detect_s"] / base["detect_s"], 2)
            total = (r["ingest_s"] + r["detect_s"]) / (base["ingest_s"] + base["detect_s"])
            r["total_ratio"] = round(total, 2)
            same = r["findings_sha256"] == base["findings_sha256"]
            r["same_findings_as_local"] = same
            ok &= same
            print(
                f"{kind:>6}: {r['total_ratio']:.2f}x the local engine's time (ingest "
                f"{r['ingest_ratio']:.2f}x, detect {r['detect_ratio']:.2f}x); findings "
                f"{'the same' if same else 'DIFFERENT'} ({r['findings']:,})"
            )
        bounded = r["worker_peak_private_mb"] <= WORKER_RSS_BOUND_MB
        r["worker_rss_within_bound"] = bounded
        ok &= bounded
    if "daft" in results and base is not None:
        print(f"target: daft local within 1.2x of local: {results['daft']['total_ratio']:.2f}x")
    print(f"target: every worker's peak private RSS <= {WORKER_RSS_BOUND_MB} MB")
    if args.json:
        print(json.dumps(results, indent=2))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
