"""Ctrl-C during ingest: the process stops at once, commits nothing half-done, and the next run
adds exactly what is missing (the workspace is as a kill -9 leaves it, then as a clean run's)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

from curate.ingest.reading import prefetch


def test_prefetch_stops_when_its_consumer_does():
    """The producer has handed over its last item and waits to say 'done' when the consumer
    stops: before, that put blocked for ever and so did the consumer's join."""
    gen = prefetch(iter([1, 2]))
    assert next(gen) == 1
    time.sleep(0.3)  # the producer has put 2 and now waits to put "done"
    closer = threading.Thread(target=gen.close, daemon=True)
    closer.start()
    closer.join(timeout=5)
    assert not closer.is_alive(), "closing the prefetch hung"


def test_prefetch_hands_on_the_producers_error():
    def items():
        yield 1
        raise ValueError("bad chunk")

    gen = prefetch(items())
    assert next(gen) == 1
    try:
        next(gen)
    except ValueError as exc:
        assert str(exc) == "bad chunk"
    else:
        raise AssertionError("the producer's error was lost")


def _lines(n: int) -> str:
    line = {
        "request": {"model": "m", "messages": [{"role": "user", "content": "q"}]},
        "response": {
            "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "billing"}}],
        },
    }
    out = []
    for i in range(n):
        line["response"]["id"] = f"c{i}"
        line["request"]["messages"][0]["content"] = f"question {i} " + "x" * 400
        out.append(json.dumps(line))
    return "\n".join(out) + "\n"


def test_ctrl_c_stops_ingest_at_once_and_loses_nothing(tmp_path):
    n = 100_000
    (tmp_path / "calls.jsonl").write_text(_lines(n))
    # small chunks: many of them, so that the interrupt lands mid-file
    (tmp_path / "curate.toml").write_text("[ingest]\nchunk_mb = 0.25\n")
    command = [
        sys.executable, "-m", "curate", "--config", str(tmp_path / "curate.toml"),
        "--workspace", str(tmp_path / "ws"), "ingest", str(tmp_path / "calls.jsonl"), "--json",
    ]  # fmt: skip
    env = os.environ | {"COLUMNS": "120"}
    stopped = []
    for delay in (1.5, 2.5, 3.5):  # a few points of the run; each must stop promptly
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        time.sleep(delay)
        if proc.poll() is not None:
            continue  # it finished first: nothing to interrupt at this point
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(
                f"ingest did not stop within 10 s of Ctrl-C (at {delay} s)"
            ) from None
        stopped.append(time.monotonic() - sent)
        assert proc.returncode != 0
    assert stopped, "every run finished before it could be interrupted: make the file larger"
    # the next run adds exactly what is missing: every line once
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    result = json.loads(done.stdout)
    assert result["quarantined"] == 0
    from curate.core.workspace import Workspace

    workspace = Workspace(tmp_path / "ws")
    records = workspace.scan_records().select("source_id").collect()
    assert records.height == n and records["source_id"].n_unique() == n
    # the file's rows came in one commit, whole: an interrupted run committed nothing, or (when
    # Ctrl-C came just after its commit) all of it; a run that finished first committed all of
    # it, and every run after that found only duplicates (an entry of 0 rows each): at most one
    # entry per run (three tries and the last one)
    rows = [s["rows"] for s in workspace.manifest()["sources"]]
    assert [r for r in rows if r] == [n] and len(rows) <= 4, rows
    assert (result["ingested"], result["duplicates"]) == ((n, 0) if len(rows) == 1 else (0, n))
    assert not list((tmp_path / "ws" / "records").glob(".staging-*"))
