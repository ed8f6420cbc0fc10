"""`curate pull langfuse` against a server in the shape of Langfuse's public API, serving the
real exports of ../shared/data (recorded shapes, not a live Langfuse: its server needs
ClickHouse). Pages of at most 50, a 429 every few requests, traces that share a timestamp in
no id order, more of them than a page holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from curate.core.config import load_config
from curate.core.project import Project
from curate.core.workspace import Workspace
from curate.ingest.pull import PullError, pull
from curate.ingest.stage import ingest_logs
from tests.ingest.pull.langfuse_server import (
    PUBLIC,
    SECRET,
    LangfuseAPI,
    recorded_traces,
    renamed,
    spread,
)

START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
# columns a pulled record shares with the same trace exported to a file and ingested
SAME = [
    "record_id",
    "source_id",
    "messages",
    "output",
    "model",
    "timestamp",
    "prompt_tokens",
    "completion_tokens",
    "feedback_score",
    "tool_calls",
    "latency_ms",
    "cost",
    "metadata",
]


@pytest.fixture
def traces(shared_data):
    return recorded_traces(shared_data / "langfuse_trace_exports")


@pytest.fixture
def api(traces):
    # 130 traces: 60 share the first timestamp (more than a page of 50), then one a minute
    server = LangfuseAPI(spread(traces, 130, START, tied=60)).serve()
    yield server
    server.close()


def project(root: Path, url: str, extra: str = "") -> Project:
    (root / "curate.toml").write_text(
        "[[pulls]]\n"
        'kind = "langfuse"\n'
        f'base_url = "{url}"\n'
        "page_size = 100\n"  # more than the server gives: paging must follow meta, not size
        "max_retries = 3\n" + extra
    )
    return Project(
        Workspace(root / ".curate", root / "curate.toml"), load_config(root / "curate.toml")
    )


@pytest.fixture
def keys(monkeypatch):
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", PUBLIC)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET)


def as_file(root: Path, traces: list[dict]) -> Project:
    """The same traces exported to a file and ingested: what the pull must equal."""
    path = root / "export.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in traces))
    other = Project(Workspace(root / "file" / ".curate"), load_config(None))
    ingest_logs(other, [path], format_name="langfuse")
    return other


def table(p: Project) -> pl.DataFrame:
    return p.workspace.scan_records().collect().select(SAME).sort("record_id")


def test_pull_equals_ingest_of_the_export_and_a_repull_adds_nothing(tmp_path, api, keys):
    p = project(tmp_path, api.url)
    api.rate_limit_every = 4
    (first,) = pull(p)
    generations = sum(
        o["type"] == "GENERATION" for t in api.traces.values() for o in t["observations"]
    )
    assert first.complete and first.items == 130
    assert first.ingested == generations > 130
    assert first.retries == api.rate_limited > 0  # every 429 retried, none lost
    expected = table(as_file(tmp_path, list(api.traces.values())))
    assert table(p).equals(expected)
    (again,) = pull(p)
    assert again.ingested == 0 and again.quarantined == 0
    assert p.workspace.scan_records().collect().height == generations
    for path in (tmp_path / ".curate").rglob("*"):  # the key is never written
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path


def test_pulls_only_what_is_new_and_a_late_trace_within_the_overlap(tmp_path, api, keys, traces):
    p = project(tmp_path, api.url)
    pull(p)
    before = p.workspace.scan_records().collect().height
    last = max(
        datetime.fromisoformat(t["timestamp"].replace("Z", "+00:00")) for t in api.traces.values()
    )
    newer = renamed(spread(traces, 7, last), "-new")  # after the last one
    # arrives late, stamped earlier than the last one pulled
    late = renamed(spread(traces, 1, last - timedelta(minutes=5)), "-late")[0]
    api.add([*newer, late])
    (second,) = pull(p)
    added = sum(o["type"] == "GENERATION" for t in [*newer, late] for o in t["observations"])
    assert second.ingested == added
    assert p.workspace.scan_records().collect().height == before + added
    # the overlap (10 minutes) was re-read and deduplicated, nothing else
    assert second.items < 30


def test_a_pull_cut_off_resumes_without_gap_or_duplicate(tmp_path, api, keys):
    p = project(tmp_path, api.url, "timeout_s = 5\n")
    api.fail_after = 110  # the server breaks down in the third page (51 requests a page)
    with pytest.raises(PullError, match="HTTP 500"):
        pull(p)
    kept = p.workspace.scan_records().collect()
    assert kept.height > 0
    manifest = p.workspace.manifest()
    assert manifest["pulls"][-1]["complete"] is False
    api.fail_after = None
    (resumed,) = pull(p)
    records = p.workspace.scan_records().collect()
    assert records["record_id"].n_unique() == records.height  # no duplicate
    assert table(p).equals(table(as_file(tmp_path, list(api.traces.values()))))  # no gap
    assert resumed.window["resumed_after"] is not None
    assert resumed.items < 130  # it did not start over


def test_wrong_keys_are_refused_by_name_and_never_shown_or_written(tmp_path, api, monkeypatch):
    p = project(tmp_path, api.url)
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", PUBLIC)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-wrong-key-987654")
    with pytest.raises(PullError) as caught:
        pull(p)
    message = str(caught.value)
    assert api.url in message and "api_key_env" in message and "HTTP 401" in message
    assert "sk-lf-wrong-key-987654" not in message
    for path in (tmp_path / ".curate").rglob("*"):
        if path.is_file():
            assert b"sk-lf-wrong-key" not in path.read_bytes(), path


def test_an_unreadable_trace_is_quarantined_with_its_id_once(tmp_path, api, keys, traces):
    p = project(tmp_path, api.url)
    broken = spread(traces, 1, START + timedelta(days=1))[0]
    broken["id"] = "broken-trace"
    broken["observations"] = "not a list"
    api.add([broken])
    (first,) = pull(p)
    rows = p.workspace.scan("quarantine").collect()
    assert first.quarantined == 1 == rows.height
    assert rows["reason"][0].startswith("trace broken-trace: ")
    (second,) = pull(p)
    assert second.quarantined == 0 and second.already_quarantined == 1
    assert p.workspace.scan("quarantine").collect().height == 1


def test_filters_tags_name_and_model(tmp_path, api, keys):
    p = project(tmp_path, api.url, '[pulls.filter]\nmodel = ["gpt-4o"]\n')
    (result,) = pull(p)
    models = set(p.workspace.scan_records().collect()["model"].to_list())
    assert models == {"gpt-4o"}
    assert result.filtered > 0


def test_curate_pull_and_curate_run_from_the_command_line(tmp_path, api, keys, runner, traces):
    from curate.cli import main

    project(
        tmp_path,
        api.url,
        'task = "agent"\n[run]\npush = false\n[tasks.agent]\nkind = "generation"\n',
    )
    config = str(tmp_path / "curate.toml")
    done = runner.invoke(main, ["--config", config, "pull", "langfuse", "--json"])
    assert done.exit_code == 0, done.output
    (summary,) = json.loads(done.stdout)["pulls"]
    assert summary["ingested"] > 0 and summary["complete"]
    assert SECRET not in done.output
    api.add(renamed(spread(traces, 3, START + timedelta(days=3)), "-run"))
    ran = runner.invoke(main, ["--config", config, "run", "--json"])
    assert ran.exit_code == 0, ran.output
    stages = json.loads(ran.stdout)["stages"]
    assert stages["pull"]["ran"] and stages["pull"]["ingested"] > 0
    assert "ingest" not in stages  # no [[sources]]: nothing else to read
    assert stages["detect"]["ran"]
    text = runner.invoke(main, ["--config", config, "pull"])
    assert text.exit_code == 0 and "0 records added" in text.output
    status = json.loads(runner.invoke(main, ["--config", config, "status", "--json"]).stdout)
    (last,) = status["pulls"]
    assert (last["name"], last["complete"], last["ingested"]) == ("langfuse", True, 0)
    assert last["cursor"][0].endswith("Z")
    shown = runner.invoke(main, ["--config", config, "status"]).output
    assert f"pull langfuse (langfuse at {api.url}): last" in " ".join(shown.split())


def test_a_trace_deleted_mid_pull_and_a_listing_without_id(tmp_path, api, keys, traces):
    p = project(tmp_path, api.url)
    ghost = renamed(spread(traces, 1, START + timedelta(days=2)), "-ghost")[0]
    api.add([ghost])
    real_answer = api.answer

    def answer(path, auth):
        if path.endswith(f"/traces/{ghost['id']}"):
            return 404, {"message": "Trace not found within authorized project"}, {}
        status, body, headers = real_answer(path, auth)
        if status == 200 and path.startswith("/api/public/traces?") and body["data"]:
            body["data"].append({"name": "a listing with no id", "timestamp": "2026-11-09"})
        return status, body, headers

    api.answer = answer
    (result,) = pull(p)
    assert result.complete and result.gone == 2  # the deleted one, the one with no id
    assert result.ingested == sum(
        o["type"] == "GENERATION"
        for t in api.traces.values()
        if t is not ghost
        for o in t["observations"]
    )


def test_several_trace_names_are_filtered_here(tmp_path, api, keys, traces):
    names = sorted({t["name"] for t in traces})[:2]
    extra = "[pulls.filter]\nname = [" + ", ".join(f'"{n}"' for n in names) + "]\n"
    p = project(tmp_path, api.url, extra)
    (result,) = pull(p)
    kept = [t for t in api.traces.values() if t["name"] in names]
    assert 0 < len(kept) < len(api.traces)
    assert result.filtered == len(api.traces) - len(kept)
    trace_names = {
        json.loads(m)["trace_name"] for m in p.workspace.scan_records().collect()["metadata"]
    }
    assert trace_names == set(names) & {
        t["name"] for t in kept if any(o["type"] == "GENERATION" for o in t["observations"])
    }


def test_a_langfuse_without_the_v1_traces_api_says_what_curate_reads(tmp_path, api, keys):
    """Langfuse Cloud deprecated GET /api/public/traces: where it is gone, the error says which
    API curate reads and what to do instead."""
    real_answer = api.answer
    api.answer = lambda path, auth: (
        (410, {"message": "Gone: use /api/public/v2/observations"}, {})
        if path.startswith("/api/public/traces")
        else real_answer(path, auth)
    )
    with pytest.raises(PullError) as caught:
        pull(project(tmp_path, api.url))
    message = str(caught.value)
    assert "v1 traces API" in message and "/api/public/v2/observations" in message
    assert "curate ingest" in message


def test_feedback_made_after_the_pull_reaches_the_records_it_is_about(tmp_path, api, keys):
    """A score is often made long after its trace: the next pull reads the scores made since
    (GET /api/public/scores) and gives their records that feedback; a score on the trace goes to
    its last generation, as when the trace is read."""
    p = project(tmp_path, api.url)
    (first,) = pull(p)
    assert first.feedback_updated == 0  # the scores read with the traces are the same
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    traces = [
        t
        for t in api.traces.values()
        if sum(o["type"] == "GENERATION" for o in t["observations"]) >= 2
    ]
    on_generation, on_trace = traces[0], traces[1]
    generation = next(o for o in on_generation["observations"] if o["type"] == "GENERATION")
    last = max(
        (o for o in on_trace["observations"] if o["type"] == "GENERATION"),
        key=lambda o: o["startTime"],
    )
    with api.lock:
        on_generation["scores"].append(
            {"id": "late-1", "name": "user-feedback", "value": 0, "comment": "wrong label",
             "observationId": generation["id"], "traceId": on_generation["id"], "timestamp": now,
             "dataType": "NUMERIC"}
        )  # fmt: skip
        on_trace["scores"].append(
            {"id": "late-2", "name": "thumbs", "value": 1, "comment": None, "observationId": None,
             "traceId": on_trace["id"], "timestamp": now, "dataType": "NUMERIC"}
        )  # fmt: skip
        on_trace["scores"].append(  # not feedback: a judge's score leaves feedback alone
            {"id": "late-3", "name": "hallucination", "value": 0.9, "observationId": last["id"],
             "traceId": on_trace["id"], "timestamp": now, "dataType": "NUMERIC"}
        )  # fmt: skip
    (second,) = pull(p)
    assert second.feedback_updated == 2
    got = {
        r["source_id"]: r
        for r in p.workspace.scan_records().collect().iter_rows(named=True)
        if r["source_id"] in (generation["id"], last["id"])
    }
    assert (got[generation["id"]]["feedback_score"], got[generation["id"]]["feedback_comment"]) == (
        0.0,
        "wrong label",
    )
    assert got[last["id"]]["feedback_score"] == 1.0
    (third,) = pull(p)
    assert third.feedback_updated == 0  # read again in the overlap: nothing changes
    assert p.workspace.scan_records().collect().height == first.ingested  # no record added
