"""`curate pull phoenix` against a real Phoenix server (`make test` starts it on 127.0.0.1:6016,
SQLite in a temporary folder: scripts/phoenix.sh). Spans are sent as an instrumented app sends
them, with the OpenTelemetry SDK over OTLP/HTTP; the same spans are also written to a file as
OTLP JSON (hex ids, as the collector's file exporter writes), and the pulled records must equal
what `curate ingest` makes of that file."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from curate.core.config import load_config
from curate.core.project import Project
from curate.core.workspace import Workspace
from curate.ingest.pull import PullError, pull
from curate.ingest.stage import ingest_logs
from tests.conftest import answers, unavailable

PHOENIX = f"http://127.0.0.1:{os.environ.get('CURATE_PHOENIX_PORT', '6016')}"
# what a pulled record shares with the same span ingested from a file (Phoenix keeps no
# resource attributes, and adds its own llm.* ones: metadata differs; times are compared apart)
SAME = [
    "record_id",
    "source_id",
    "messages",
    "output",
    "model",
    "tool_calls",
    "finish_reason",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "input_hash",
    "prompt_version",
]


@pytest.fixture(scope="module")
def phoenix() -> str:
    """The Phoenix server `make test` started; in CI its absence fails the run."""
    if not answers(f"{PHOENIX}/healthz"):
        unavailable(f"no Phoenix server at {PHOENIX}: run `make phoenix-up` (make test does it)")
    return PHOENIX


class App:
    """An instrumented app: GenAI spans (and their agent's parent spans) for one project, sent
    to Phoenix, and kept to be written as an OTLP JSON file."""

    def __init__(self, url: str, project: str):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        resource = Resource.create(
            {"service.name": "ticket-triage", "openinference.project.name": project}
        )
        self.provider = TracerProvider(resource=resource)
        self.sent = InMemorySpanExporter()
        self.provider.add_span_processor(SimpleSpanProcessor(self.sent))
        exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces")
        # a queue for every span a test sends: the default (2,048) drops the rest, silently
        processor = BatchSpanProcessor(exporter, max_queue_size=100_000, max_export_batch_size=256)
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("ticket-triage", "1.0")
        self.calls = 0

    def send(self, n: int) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        for _ in range(n):
            i = self.calls
            self.calls += 1
            parent = self.tracer.start_as_current_span("triage ticket")  # not a model call
            call = self.tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT)
            with parent, call as span:
                self.describe(span, i)
                if i % 13 == 0:
                    span.set_status(Status(StatusCode.ERROR, "429 Too Many Requests"))
        self.provider.force_flush()

    @staticmethod
    def describe(span, i: int) -> None:
        """The GenAI attributes of call `i` (current semantic conventions)."""
        label = ["billing", "refund", "other"][i % 3]
        text = f"Ticket {i}: my invoice #{i * 7} was charged twice"
        output = {
            "role": "assistant",
            "parts": [{"type": "text", "content": json.dumps({"label": label})}],
            "finish_reason": "length" if i % 11 == 0 else "stop",
        }
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.system_instructions": json.dumps(
                [{"type": "text", "content": "Label the ticket."}]
            ),
            "gen_ai.input.messages": json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": text}]}]
            ),
            "gen_ai.output.messages": json.dumps([output]),
            "gen_ai.usage.input_tokens": 40 + i % 9,
            "gen_ai.usage.output_tokens": 5 + i % 4,
        }
        span.set_attributes(attributes)

    def export_file(self, path: Path) -> Path:
        """The spans sent, as the collector's file exporter writes them: OTLP JSON, hex ids."""
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        request = MessageToDict(encode_spans(self.sent.get_finished_spans()))
        for resource in request["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if key in span:
                            span[key] = base64.b64decode(span[key]).hex()
        path.write_text(json.dumps(request) + "\n")
        return path


def project(root: Path, name: str, extra: str = "") -> Project:
    root.mkdir(parents=True, exist_ok=True)
    (root / "curate.toml").write_text(
        f'[[pulls]]\nkind = "phoenix"\nbase_url = "{PHOENIX}"\nproject = "{name}"\n' + extra
    )
    return Project(
        Workspace(root / ".curate", root / "curate.toml"), load_config(root / "curate.toml")
    )


def records(p: Project) -> pl.DataFrame:
    return p.workspace.scan_records().collect().sort("record_id")


def stored(name: str) -> int:
    """The LLM spans Phoenix has stored for the project so far."""
    count, cursor = 0, None
    while True:
        url = f"{PHOENIX}/v1/projects/{name}/spans?limit=1000&span_kind=LLM"
        with urllib.request.urlopen(url + (f"&cursor={cursor}" if cursor else ""), timeout=5) as r:
            answer = json.load(r)
        count += len(answer["data"])
        cursor = answer.get("next_cursor")
        if not cursor:
            return count


def wait_for_spans(name: str, n: int) -> None:
    """Phoenix stores what it receives a moment later (its bulk inserter)."""
    deadline = time.monotonic() + 60
    seen = 0
    while time.monotonic() < deadline:
        try:
            seen = stored(name)
        except OSError:
            seen = 0
        if seen >= n:
            return
        time.sleep(0.3)
    raise AssertionError(f"Phoenix stored {seen} of {n} spans in 60 s")


@pytest.fixture
def name() -> str:
    return f"curate-pull-{uuid.uuid4().hex[:8]}"


def test_pulled_spans_are_the_records_of_the_same_spans_as_a_file(tmp_path, phoenix, name):
    app = App(phoenix, name)
    app.send(120)
    wait_for_spans(name, 120)
    p = project(tmp_path / "pull", name, "page_size = 50\n")
    (result,) = pull(p)
    assert result.complete and result.pages >= 5  # 240 spans, 50 a page
    assert result.ingested == 120
    assert result.skipped == {
        "spans that are not model calls (no gen_ai.* or llm.* attributes)": 120
    }
    file = Project(Workspace(tmp_path / "file" / ".curate"), load_config(None))
    ingest_logs(file, [app.export_file(tmp_path / "spans.json")], format_name="otel")
    pulled, exported = records(p), records(file)
    assert pulled.select(SAME).equals(exported.select(SAME))
    # times: Phoenix keeps microseconds, the file nanoseconds
    assert (pulled["timestamp"] - exported["timestamp"]).abs().max() <= timedelta(microseconds=1)
    assert (pulled["latency_ms"] - exported["latency_ms"]).abs().max() < 0.01
    assert pulled.filter(pl.col("error").is_not_null()).height == 10  # every 13th
    # each page's accounting: every span it held is a record, a duplicate, quarantined or skipped
    pages = [s for s in p.workspace.manifest()["sources"] if "pull" in s]
    assert len(pages) == result.pages
    for page in pages:
        read = (
            page["rows"] + page["duplicates"] + page["quarantined"] + sum(page["skipped"].values())
        )
        assert read == page["pull"]["items"] > 0, page
    assert set(pulled["source"]) == {"pull:phoenix"}


def test_a_second_pull_takes_only_the_new_spans(tmp_path, phoenix, name):
    app = App(phoenix, name)
    app.send(60)
    wait_for_spans(name, 60)
    p = project(tmp_path, name, 'overlap = 10\n[pulls.filter]\nspan_kind = ["LLM"]\n')
    (first,) = pull(p)
    assert first.ingested == 60 and first.items == 60  # the parents are not LLM spans
    (again,) = pull(p)
    assert again.ingested == 0 and again.items <= 10  # only the overlap is re-read
    app.send(25)
    wait_for_spans(name, 85)
    (second,) = pull(p)
    assert second.ingested == 25 and second.duplicates <= 10
    assert records(p).height == 85
    pulls = p.workspace.manifest()["pulls"]
    assert [x["ingested"] for x in pulls] == [60, 0, 25]
    assert all(x["complete"] for x in pulls)


def test_a_pull_killed_mid_way_resumes_without_gap_or_duplicate(tmp_path, phoenix, name):
    app = App(phoenix, name)
    app.send(1500)
    wait_for_spans(name, 1500)
    p = project(
        tmp_path, name, 'page_size = 20\noverlap = 0\n[pulls.filter]\nspan_kind = ["LLM"]\n'
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "curate", "--config", str(tmp_path / "curate.toml"), "pull"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    manifest = tmp_path / ".curate" / "manifest.json"
    deadline = time.monotonic() + 60
    pages = 0
    while time.monotonic() < deadline and process.poll() is None:
        try:
            pages = len(json.loads(manifest.read_text())["sources"])
        except (OSError, ValueError, KeyError):
            pages = 0
        if pages >= 5:
            break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert pages >= 5, "the pull finished before it could be killed"
    kept = records(p).height
    committed = p.workspace.manifest()["sources"]
    assert 0 < kept == sum(s["rows"] for s in committed) < 1500
    assert list((tmp_path / ".curate").glob(".pull-*"))  # the killed pull's pages
    (resumed,) = pull(p)
    assert not list((tmp_path / ".curate").glob(".pull-*"))  # cleared by the next pull
    assert resumed.ingested == 1500 - kept  # no gap
    all_records = records(p)
    assert all_records.height == 1500 == all_records["record_id"].n_unique()  # no duplicate
    assert resumed.duplicates == 0  # overlap 0: it re-read nothing committed
    print(f"killed after {len(committed)} pages ({kept} records); resumed: {resumed.ingested}")


def test_a_wrong_project_or_address_says_what_to_check(tmp_path, phoenix):
    with pytest.raises(PullError, match="has no project 'no-such-project'"):
        pull(project(tmp_path / "a", "no-such-project"))
    p = project(tmp_path / "b", "default", "max_retries = 0\n")
    (p.workspace.config_path).write_text(
        p.workspace.config_path.read_text().replace(PHOENIX, PHOENIX + "/v1")
    )
    with pytest.raises(PullError, match="not JSON"):
        pull(Project(p.workspace, load_config(p.workspace.config_path)))


def test_spans_of_the_openinference_instrumentor_are_read(tmp_path, phoenix, name, shared_data):
    """Phoenix's own instrumentation (OpenInference, llm.* attributes, no gen_ai.*): the real
    instrumentor of the OpenAI client, calling a local OpenAI-compatible server."""
    import openai
    from openinference.instrumentation.openai import OpenAIInstrumentor

    from tests.judge_server import JudgeServer

    app = App(phoenix, name)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=app.provider)
    try:
        with JudgeServer(shared_data, lambda prompt: ("refund", -0.02)) as server:
            client = openai.OpenAI(base_url=server.url, api_key="sk-test", max_retries=0)
            for i in range(4):
                client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[
                        {"role": "system", "content": "Label the ticket."},
                        {"role": "user", "content": f"Ticket {i}: I want my money back"},
                    ],
                )
        app.provider.force_flush()
    finally:
        instrumentor.uninstrument()
    wait_for_spans(name, 4)
    p = project(tmp_path, name)
    (result,) = pull(p)
    assert result.ingested == 4
    got = records(p).sort("timestamp")
    assert got["output"].to_list() == ["refund"] * 4
    assert [m["role"] for m in got["messages"][0]] == ["system", "user"]
    assert got["messages"][2][1]["content"] == "Ticket 2: I want my money back"
    assert got["model"].null_count() == 0 and got["prompt_tokens"].null_count() == 0
    assert "llm.input_messages" not in got["metadata"][0]  # read, not copied to metadata


@pytest.fixture(scope="module")
def phoenix_with_auth(tmp_path_factory):
    """A second real Phoenix, with authentication on (its admin secret is a bearer key), from
    the same install `make phoenix` made; started here, stopped after."""
    binaries = sorted(Path(__file__).resolve().parents[2].glob(".tools/phoenix-*/bin/phoenix"))
    if not binaries:
        unavailable("no Phoenix under .tools/: run `make phoenix` (make test does it)")
    port = 6026
    env = os.environ | {
        "PHOENIX_WORKING_DIR": str(tmp_path_factory.mktemp("phoenix-auth")),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": "4337",
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ENABLE_AUTH": "true",
        "PHOENIX_SECRET": "curate0test0secret0of0phoenix0auth0x",
        "PHOENIX_ADMIN_SECRET": "curate0admin0secret0of0phoenix0auth1",
    }
    process = subprocess.Popen(
        [str(binaries[-1]), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if answers(f"{url}/healthz"):
                break
            if process.poll() is not None:
                pytest.fail("the Phoenix with authentication exited at start")
            time.sleep(0.5)
        else:
            pytest.fail("the Phoenix with authentication did not come up in 90 s")
        yield url, env["PHOENIX_ADMIN_SECRET"]
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_wrong_key_is_refused_by_name_and_the_right_one_pulls(
    tmp_path, phoenix_with_auth, monkeypatch
):
    url, secret = phoenix_with_auth
    toml = f'[[pulls]]\nkind = "phoenix"\nbase_url = "{url}"\nproject = "default"\n'
    toml += 'api_key_env = "CURATE_TEST_PHOENIX_KEY"\nmax_retries = 0\n'
    (tmp_path / "curate.toml").write_text(toml)
    p = Project(
        Workspace(tmp_path / ".curate", tmp_path / "curate.toml"),
        load_config(tmp_path / "curate.toml"),
    )
    monkeypatch.setenv("CURATE_TEST_PHOENIX_KEY", "wrong-key-0123456789")
    with pytest.raises(PullError) as caught:
        pull(p)
    assert "refused the key" in str(caught.value) and url in str(caught.value)
    assert "wrong-key-0123456789" not in str(caught.value)
    monkeypatch.setenv("CURATE_TEST_PHOENIX_KEY", secret)
    (result,) = pull(p)
    assert result.complete
    for path in (tmp_path / ".curate").rglob("*"):
        assert not path.is_file() or secret.encode() not in path.read_bytes(), path


def test_feedback_annotations_become_the_records_feedback(tmp_path, phoenix, name):
    """A person's thumbs on a span in Phoenix (a span annotation) is the record's feedback: read
    for the spans a pull reads, including those it re-reads in the overlap."""
    app = App(phoenix, name)
    app.send(6)
    wait_for_spans(name, 6)
    p = project(tmp_path, name, 'overlap = 1000\n[pulls.filter]\nspan_kind = ["LLM"]\n')
    (first,) = pull(p)
    assert first.ingested == 6 and first.feedback_updated == 0
    spans = sorted(records(p)["source_id"])
    notes = [
        {"span_id": spans[0], "name": "user-feedback", "annotator_kind": "HUMAN",
         "result": {"score": 0, "explanation": "the label is wrong"}},
        {"span_id": spans[1], "name": "thumbs", "annotator_kind": "HUMAN",
         "result": {"label": "thumbs_up"}},
        {"span_id": spans[2], "name": "hallucination", "annotator_kind": "LLM",
         "result": {"score": 0.9}},  # not feedback
    ]  # fmt: skip
    request = urllib.request.Request(
        f"{phoenix}/v1/span_annotations",
        data=json.dumps({"data": notes}).encode(),
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()
    deadline, updated = time.monotonic() + 30, 0
    while time.monotonic() < deadline and updated < 2:  # Phoenix stores them a moment later
        (again,) = pull(p)
        assert again.ingested == 0
        updated += again.feedback_updated
        time.sleep(0.5)
    assert updated == 2
    got = {r["source_id"]: r for r in records(p).iter_rows(named=True)}
    assert (got[spans[0]]["feedback_score"], got[spans[0]]["feedback_comment"]) == (
        0.0,
        "the label is wrong",
    )
    assert got[spans[1]]["feedback_score"] == 1.0
    assert got[spans[2]]["feedback_score"] is None
    (third,) = pull(p)
    assert third.feedback_updated == 0  # nothing new
