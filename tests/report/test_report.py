from __future__ import annotations

import json

import pytest

from curate.cli import main
from curate.core.project import Project
from tests.conftest import SAMPLE
from tests.units.formulas import newcombe_by_formula
from tests.units.test_report_statistics import _expected_verdict


@pytest.fixture(scope="module")
def detected(tmp_path_factory):
    from click.testing import CliRunner

    root = tmp_path_factory.mktemp("report")
    for name in ("curate.toml", "entity_match_output.schema.json"):
        (root / name).write_text((SAMPLE / name).read_text())
    (root / "curate.toml").write_text(
        (root / "curate.toml").read_text()
        + "\n[report]\ntarget = 200\nshort_prompt_tokens = 40\n"
        + "[report.prices]\ninput = 0.15\noutput = 0.6\nfinetuned_input = 0.3\nfinetuned_output = 1.2\n"
    )
    runner = CliRunner()
    ws = ["--workspace", str(root / ".curate"), "--config", str(root / "curate.toml")]
    args = [*ws, "ingest", str(SAMPLE / "entity_match_chat.jsonl.gz"), "--task", "entity_match"]
    assert runner.invoke(main, args).exit_code == 0
    assert runner.invoke(main, [*ws, "detect"]).exit_code == 0
    assert runner.invoke(main, [*ws, "balance", "--target", "100"]).exit_code == 0
    return root, ws


def test_report_numbers(detected, runner):
    _, ws = detected
    result = runner.invoke(main, [*ws, "report", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    verdict = report["failures"]["verdicts"]["entity_match"]
    assert "entity_match@v1" in verdict["why"] and "entity_match@v2" in verdict["why"]
    # the verdict follows from the numbers, whatever it is: recomputed here independently
    before, after = verdict["versions"]
    low, high = newcombe_by_formula(
        after["failures"], after["calls"], before["failures"], before["calls"]
    )
    assert verdict["change"]["ci"] == [
        pytest.approx(low, rel=1e-4, abs=1e-7),
        pytest.approx(high, rel=1e-4, abs=1e-7),
    ]
    assert verdict["verdict"] == _expected_verdict(low, high, before["failures"] / before["calls"])
    versions = [v["prompt_version"] for v in report["failures"]["by_prompt_version"]]
    assert versions == ["entity_match@v1", "entity_match@v2"]
    ready = report["readiness"]
    assert ready["target"] == 200 and ready["labelled"] == 0 and not ready["ready"]
    assert any("200 more labelled examples" in m for m in ready["missing"])
    assert any("edge case nickname" in m for m in ready["missing"])
    cost = report["cost"]
    assert 0.5 < cost["system_prompt_share"] < 0.9  # the sample's long system prompt
    today = cost["per_million_calls"]["today"]
    tuned = cost["per_million_calls"]["fine_tuned_short_prompt"]
    assert tuned["prompt_tokens"] < today["prompt_tokens"]
    assert today["cost"] == pytest.approx(
        (cost["prompt_tokens_per_call"] * 0.15 + cost["completion_tokens_per_call"] * 0.6), rel=0.01
    )
    assert cost["latency_fit"]["ms_per_1k_prompt_tokens"] > 0


def test_html_report_renders_its_charts_in_chromium(detected, runner, tmp_path):
    from tests.conftest import draw_in_chromium

    _, ws = detected
    page = tmp_path / "report.html"
    assert runner.invoke(main, [*ws, "report", "--html", str(page)]).exit_code == 0
    text = page.read_text()
    assert "<script src=" not in text  # one self-contained file
    charts = text.count('class="plotly-graph-div"')
    assert charts == 5  # levers, prompt versions, weekly, cost, latency
    traces, shot = draw_in_chromium(page, tmp_path / "report.png")
    assert len(traces) == charts and all(n >= 1 for n in traces), traces
    assert shot.stat().st_size > 50_000
    for question in (
        "What would fix the failing calls?",
        "Has prompting plateaued?",
        "Are failures going down, week by week?",
        "What would a fine-tune save?",
        "How much latency would a shorter prompt save?",
    ):
        assert f"<h2>{question}</h2>" in text


@pytest.mark.parametrize("latency", ["none", "some", "all"])
@pytest.mark.parametrize("usage", [False, True])
def test_report_says_what_the_logs_lack(workspace, latency, usage):
    """Some or all calls without latency or token usage: a report, never a ShapeError."""
    from curate.core.config import Config
    from curate.detect.stage import find_failures
    from curate.report.html import render_html
    from curate.report.sections import report_notes
    from curate.report.stage import build_report
    from tests.detect.detectors.helpers import TOPICS, put

    rows = []
    for i in range(40):
        row = {"output": "billing" if i % 3 else "Topic: other stuff", "timestamp": None}
        if usage:
            row |= {"prompt_tokens": 50 + i, "completion_tokens": 2}
        if latency == "all" or (latency == "some" and i < 5):
            row["latency_ms"] = 300.0 + i
        rows.append(row)
    put(workspace, rows, task="topic")
    config = Config(data={"tasks": {"topic": TOPICS}})
    find_failures(Project(workspace, config))
    report = build_report(Project(workspace, config))
    render_html(report)
    notes = " | ".join(report_notes(report))
    assert "no timestamps in these logs" in notes
    if not usage:
        assert "token usage is not in these logs" in notes
    if latency == "none":
        assert "latency is not in these logs" in notes
    elif latency == "some" and usage:
        assert "only 5 calls have both latency and token usage" in notes
    if latency == "all" and usage:
        assert report["cost"]["latency_fit"]["calls"] == 40
        assert len(report["_latency_points"]) == 40


def _usage_frame(n: int, ttft: bool, seed: int = 1):
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    prompt = rng.integers(200, 4000, n)
    completion = prompt // 10 + rng.integers(0, 40, n)  # longer prompts, longer answers
    prefill = 80 + 0.3 * prompt + rng.normal(0, 5, n)
    return pl.DataFrame(
        {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "ttft_ms": prefill if ttft else [None] * n,
            "latency_ms": prefill + 25 * completion,
        },
        schema_overrides={"ttft_ms": pl.Float64},
    )


def test_prefill_latency_is_fitted_on_time_to_first_token_when_logged():
    from curate.report.cost import TTFT, latency_fit

    fit = latency_fit(_usage_frame(500, ttft=True), saved_tokens=1000)
    assert fit["fitted"] == TTFT
    assert fit["ms_per_1k_prompt_tokens"] == pytest.approx(300, rel=0.05)
    assert fit["saved_ms_per_call_with_short_prompt"] == pytest.approx(300, rel=0.05)


def test_without_ttft_completion_tokens_are_a_second_variable():
    """Total latency includes generation; longer prompts here get longer answers, so a fit on
    prompt tokens alone would say 2.8 ms per prompt token. With completion tokens beside it,
    the prompt's own cost (0.3 ms) comes back."""
    import numpy as np

    from curate.report.cost import TOTAL_TWO, latency_fit

    usage = _usage_frame(500, ttft=False)
    fit = latency_fit(usage, saved_tokens=0)
    assert fit["fitted"] == TOTAL_TWO
    assert fit["ms_per_1k_prompt_tokens"] == pytest.approx(300, rel=0.1)
    assert fit["ms_per_completion_token"] == pytest.approx(25, rel=0.05)
    naive = np.polyfit(usage["prompt_tokens"], usage["latency_ms"], 1)[0]
    assert naive > 2  # what the one-variable fit would have claimed, per prompt token
