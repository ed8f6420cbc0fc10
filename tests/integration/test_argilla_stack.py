"""The local stack is real: OpenSearch, Redis, the Argilla server, reached over HTTP."""

from __future__ import annotations

import json
import time
import urllib.request

from curate.stack.local import HOST, PORTS


def test_opensearch_is_a_real_node_with_what_argilla_needs():
    with urllib.request.urlopen(f"http://{HOST}:{PORTS['opensearch']}/", timeout=5) as response:
        info = json.loads(response.read())
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"] == "2.19.6"


def test_up_on_a_running_stack_starts_nothing_new(argilla_url, runner):
    """curate's own stack management: `argilla up` again finds every part answering and leaves
    the running processes as they are (same pids), quickly."""
    from curate.cli import main

    ws = ["--workspace", ".test-stack/.curate", "argilla"]
    before = json.loads(runner.invoke(main, [*ws, "status", "--json"]).stdout)
    start = time.monotonic()
    again = runner.invoke(main, [*ws, "up", "--json"])
    assert again.exit_code == 0, again.output
    after = json.loads(again.stdout)
    assert time.monotonic() - start < 30
    assert after["healthy"] and after["url"] == argilla_url
    assert {c: after[c]["pid"] for c in ("opensearch", "redis", "argilla", "worker")} == {
        c: before[c]["pid"] for c in ("opensearch", "redis", "argilla", "worker")
    }


def test_status_command_reports_every_part_healthy(argilla_url, runner, tmp_path):
    from curate.cli import main

    result = runner.invoke(
        main, ["--workspace", ".test-stack/.curate", "argilla", "status", "--json"]
    )
    status = json.loads(result.stdout)
    assert status["url"] == argilla_url
    assert (
        status["opensearch"]["healthy"]
        and status["redis"]["healthy"]
        and status["argilla"]["healthy"]
    )
