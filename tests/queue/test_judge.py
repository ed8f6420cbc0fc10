"""The judge model, against a local OpenAI-compatible server over real HTTP (issue 14): retries
on 429, 500, timeouts and malformed bodies; the cache; the budget; the accounting; suggestions in
the queue; the judge measured against people."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pytest

from curate.core.config import load_config
from curate.core.project import Project
from curate.core.suggestions import judge_agreement
from curate.queue.judge import suggest
from curate.queue.memory import MemoryQueue
from curate.queue.stage import pull_queue, push_queue
from tests.conftest import balanced_sample
from tests.judge_server import JudgeServer


def _answer(prompt: str) -> tuple[str, float]:
    """A deterministic judge: mostly 'match', surer of some answers than of others."""
    digest = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    label = "non_match" if digest % 4 == 0 else "match"
    return label, -0.01 if digest % 3 else -1.2  # p = 0.99 or 0.30


@pytest.fixture
def judged(tmp_path, shared_data):
    with JudgeServer(shared_data, _answer, delay=3.0) as server:
        toml = (
            f'\n[judge]\nbase_url = "{server.url}"\nmodel = "judge-1"\ntimeout_s = 2.0\n'
            "max_retries = 4\nmax_concurrency = 3\n[judge.prices]\ninput = 1.0\noutput = 2.0\n"
        )
        workspace, config = balanced_sample(tmp_path, target=60, seed=2, extra_toml=toml)
        yield Project(workspace, config), server


def test_retries_cache_and_accounting(judged):
    project, server = judged
    server.faults = ["429", "500", "malformed", "timeout"]
    first = suggest(project)
    n = project.workspace.read_table("candidates").height
    assert (first.candidates, first.asked, first.answered, first.failed) == (n, n, n, 0)
    assert first.retries == 4 and first.cached == 0
    table = project.workspace.read_table("suggestions")
    assert table.height == n and table["error"].null_count() == n
    assert first.prompt_tokens == int(table["prompt_tokens"].sum()) > 0
    assert first.completion_tokens == 3 * n
    assert first.cost == pytest.approx((first.prompt_tokens * 1.0 + 3 * n * 2.0) / 1e6, rel=1e-9)
    assert set(table["score"].round(2)) == {0.99, 0.3}
    asked = len(server.requests)
    again = suggest(project)
    assert (again.asked, again.cached) == (0, n) and len(server.requests) == asked
    # a new prompt is a new question: nothing cached answers it, and a new model neither
    project.config.data["judge"]["prompts"] = {"entity_match": "Say {ask} for: {input}"}
    reworded = suggest(project)
    assert (reworded.asked, reworded.cached) == (n, 0)
    project.config.data["judge"]["model"] = "judge-2"
    assert suggest(Project(project.workspace, project.config)).cached == 0


def test_a_budget_stops_new_calls_and_the_rest_is_asked_later(judged):
    project, _server = judged
    config = project.config
    config.data["judge"]["budget_calls"] = 5
    capped = suggest(Project(project.workspace, config))
    n = capped.candidates
    assert (capped.asked, capped.over_budget) == (5, n - 5)
    config.data["judge"].pop("budget_calls")
    rest = suggest(Project(project.workspace, config))
    assert (rest.cached, rest.asked) == (5, n - 5)


def test_calls_that_never_work_are_counted_and_asked_again(judged):
    project, server = judged
    project.config.data["judge"]["max_retries"] = 1
    server.faults = ["500"] * 4  # the first two calls fail twice each
    project.config.data["judge"]["max_concurrency"] = 1
    result = suggest(project)
    assert result.failed == 2 and len(result.errors) == 2 and "HTTP 500" in result.errors[0]
    errors = project.workspace.read_table("suggestions").filter(pl.col("error").is_not_null())
    assert errors.height == 2
    again = suggest(project)
    assert again.asked == 2 and again.failed == 0


def test_suggestions_reach_the_queue_and_the_judge_is_measured(judged):
    project, _ = judged
    queue = project.queue_backend = MemoryQueue()
    suggest(project)
    push_queue(project)
    table = project.workspace.read_table("suggestions")
    judge_of = dict(table.select("record_id", "label").iter_rows())
    records = [r for d in queue.datasets.values() for r in d.records.values()]
    assert records and all(
        r["suggestions"]["label"]["agent"] == "judge-1"
        and r["suggestions"]["label"]["value"] == judge_of[r["external_id"]]
        for r in records
    )

    def people(dataset, record):  # people disagree with the judge on every 5th record
        said = judge_of[record["external_id"]]
        if int(hashlib.sha256(record["external_id"].encode()).hexdigest(), 16) % 5 == 0:
            said = "match" if said == "non_match" else "non_match"
        return {"label": said, "is_failure": "yes"}

    queue.answer_all(people)
    judged_by = pull_queue(project).judge["entity_match"]
    resolved = project.workspace.read_table("resolved").filter(pl.col("question") == "label")
    truth = {r: json.loads(v) for r, v in resolved.select("record_id", "value").iter_rows()}
    pairs = [(judge_of[r], truth[r]) for r in truth]
    n = len(pairs)
    p_o = sum(a == b for a, b in pairs) / n
    p_e = sum(
        (sum(a == c for a, _ in pairs) / n) * (sum(b == c for _, b in pairs) / n)
        for c in ("match", "non_match")
    )
    assert judged_by["records"] == n and judged_by["accuracy"] == pytest.approx(p_o, abs=1e-4)
    assert judged_by["kappa"] == pytest.approx((p_o - p_e) / (1 - p_e), abs=1e-4)
    sure = [
        (judge_of[r], truth[r])
        for r in truth
        if table.filter(pl.col("record_id") == r)["score"][0] >= 0.9
    ]
    row = next(s for s in judged_by["by_score"] if s["threshold"] == 0.9)
    assert row["records"] == len(sure)
    assert row["accuracy"] == pytest.approx(sum(a == b for a, b in sure) / len(sure), abs=1e-4)
    from curate.report.html import render_html
    from curate.report.stage import build_report

    report = build_report(project)
    assert report["judge"]["entity_match"] == judged_by
    assert "<h2>Could the judge label the rest?</h2>" in render_html(report)


def test_without_a_judge_suggest_says_what_to_write(workspace):
    from curate.core.config import Config
    from curate.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no \[judge\] in curate.toml"):
        suggest(Project(workspace, Config()))


def test_judge_agreement_with_nothing_to_compare():
    empty = judge_agreement(
        pl.DataFrame(
            schema={
                "record_id": pl.String,
                "task": pl.String,
                "model": pl.String,
                "label": pl.String,
                "score": pl.Float64,
            }
        ),
        pl.DataFrame(schema={"record_id": pl.String, "question": pl.String, "value": pl.String}),
        pl.DataFrame(schema={"record_id": pl.String, "class": pl.String}),
    )
    assert empty == {}


def test_config_loads(tmp_path):
    (tmp_path / "curate.toml").write_text(
        '[judge]\nbase_url = "http://127.0.0.1:1/v1"\nmodel = "m"\nbudget_tokens = 10\n'
    )
    assert load_config(tmp_path / "curate.toml").section("judge")["budget_tokens"] == 10


def test_suggest_from_the_command_line(judged, runner):
    from curate.cli import main

    project, _ = judged
    args = ["--workspace", str(project.workspace.root), "--config", str(project.config.path)]
    result = runner.invoke(main, [*args, "suggest", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["model"] == "judge-1" and data["answered"] == data["candidates"] > 0
    human = runner.invoke(main, [*args, "suggest"])
    assert "answered before (cached)" in " ".join(human.output.split())


def test_the_judge_is_sent_no_personal_data_when_the_task_says_so(tmp_path, shared_data):
    """A redaction policy covers the judge's prompts too: no email reaches the endpoint, the
    names the task keeps do."""
    import re

    with JudgeServer(shared_data, _answer) as server:
        toml = (
            f'\n[judge]\nbase_url = "{server.url}"\nmodel = "judge-1"\n'
            "[tasks.entity_match.redact]\n"
            'entities = ["EMAIL_ADDRESS"]\nkeep_fields = ["first_name", "surname", "dob"]\n'
        )
        workspace, config = balanced_sample(tmp_path, target=20, seed=4, extra_toml=toml)
        project = Project(workspace, config)
        assert suggest(project).answered > 0
        sent = [r["messages"][-1]["content"] for r in server.requests]
    email = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
    assert sent and not any(email.search(p) for p in sent)
    assert any("<EMAIL_ADDRESS_1>" in p for p in sent)


# -- the judge endpoint is someone else's server ----------------------------------------------

SECRET = "sk-test-0123456789abcdef"


def test_no_secret_is_printed_or_stored(judged, monkeypatch, runner):
    """A 401 body that echoes the Bearer token: the key is in no error, no --json output and
    no row of `suggestions`."""
    from curate.cli import main

    project, server = judged
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    toml = project.config.path
    toml.write_text(
        toml.read_text().replace(
            'model = "judge-1"', 'model = "judge-1"\napi_key_env = "JUDGE_KEY"'
        )
    )
    server.faults = ["echo_401"] * 3
    args = ["--workspace", str(project.workspace.root), "--config", str(toml)]
    result = runner.invoke(main, [*args, "suggest", "--json"])
    assert result.exit_code == 0, result.output
    assert server.requests and SECRET not in result.output
    data = json.loads(result.stdout)
    assert (
        data["failed"] == 3
        and "HTTP 401" in data["errors"][0]
        and "Bearer ***" in data["errors"][0]
    )
    table = project.workspace.read_table("suggestions")
    assert not any(SECRET in (e or "") for e in table["error"].to_list())
    assert all(
        SECRET.encode() not in p.read_bytes()
        for p in project.workspace.root.rglob("*")
        if p.is_file()
    )


@pytest.mark.parametrize(
    "fault", ["usage_list", "tokens_huge", "tokens_abc", "logprob_abc", "logprob_huge"]
)
def test_one_malformed_answer_is_one_failed_ask(judged, fault):
    """Before: it raised and threw away every answer the run had gathered."""
    project, server = judged
    project.config.data["judge"]["max_concurrency"] = 1
    server.faults = [None, fault]  # the second call's answer is broken
    result = suggest(project)
    n = result.candidates
    assert (result.asked, result.answered, result.failed) == (n, n - 1, 1)
    table = project.workspace.read_table("suggestions")
    assert table.height == n
    (error,) = table.filter(pl.col("error").is_not_null())["error"].to_list()
    assert ("token count" in error) or ("log-probability" in error) or ("`usage`" in error)


def test_a_gzip_bomb_is_cut_off(judged):
    """A gzip body that expands to 1 GiB: refused past 16 MB decoded, memory bounded."""
    import resource

    project, server = judged
    project.config.data["judge"]["max_concurrency"] = 1
    server.bomb()  # made before the call, so that making it is not taken for a slow server
    server.faults = ["gzip_bomb"]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = suggest(project)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KB on Linux
    assert result.failed == 1 and "over 16 MB" in result.errors[0]
    assert result.answered == result.candidates - 1
    assert grown < 512 * 1024, f"peak memory grew by {grown / 1024:.0f} MB"


def test_an_answer_trickled_a_byte_at_a_time_times_out(judged):
    """Each read is quick, the whole answer never comes: the timeout bounds the whole answer
    (before, it was per read and the call hung for minutes)."""
    project, server = judged
    project.config.data["judge"].update(max_concurrency=1, max_retries=0)
    server.faults = ["trickle"]
    result = suggest(project)
    assert result.failed == 1 and "no whole answer within 2 s" in result.errors[0]


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ('Answer as {"label": "..."} for {input}', "write a literal brace twice"),
        ("Judge {input} against {reference}", "{task}, {input}, {output}, {labels}, {ask}"),
        ("{0}", "placeholders"),
    ],
)
def test_a_judge_prompt_that_cannot_be_filled_says_how(judged, prompt, message):
    from curate.core.errors import ConfigError

    project, _ = judged
    project.config.data["judge"]["prompts"] = {"entity_match": prompt}
    with pytest.raises(ConfigError, match=r"\[judge\.prompts\] entity_match") as caught:
        suggest(project)
    assert message in str(caught.value)
    project.config.data["judge"]["prompts"] = {
        "entity_match": 'Answer as {{"label": "x"}}: {input}'
    }
    assert suggest(project).answered > 0  # doubled braces are literal ones


@pytest.mark.parametrize("url", ["http://[::1/v1", "localhost:8000/v1", "ftp://127.0.0.1/v1"])
def test_a_base_url_that_is_no_url_names_the_key(url):
    from curate.core.errors import ConfigError
    from curate.queue.judge import Judge

    with pytest.raises(ConfigError, match=r"\[judge\] base_url"):
        Judge({"base_url": url, "model": "m"})
