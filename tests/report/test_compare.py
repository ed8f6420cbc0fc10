"""Before and after: a second model that fixes a planted share of format failures, and no
decision failure, must be reported as exactly that; the figures against an independent
computation."""

from __future__ import annotations

import json
import math

import pytest

from curate.cli import main
from curate.report.compare import mcnemar_p, newcombe, wilson
from tests.conftest import chat_line, write_jsonl

TOPICS = ["billing", "technical", "other"]
CONFIG = """
[tasks.topic]
kind = "classification"
labels = ["billing", "technical", "other"]
"""
N = 300
FINE_TUNED = "ft:gpt-4o-mini:acme:topics"


def _answer(i: int, model: str) -> str:
    truth = TOPICS[i % 3]
    kind = i % 10
    if kind in (0, 1, 2):  # the right topic in the wrong form; B fixes kinds 0 and 1
        return truth if model == FINE_TUNED and kind in (0, 1) else f"Topic: {truth.title()}."
    if kind in (3, 4):  # the wrong topic, by both models
        return TOPICS[(i + 1) % 3]
    return truth


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from click.testing import CliRunner

    root = tmp_path_factory.mktemp("compare")
    (root / "curate.toml").write_text(CONFIG)
    rows, refs = [], ["id,reference"]
    for model in ("gpt-4o-mini", FINE_TUNED):
        for i in range(N):
            line = chat_line(i, _answer(i, model), system="Classify the ticket.")
            line["response"]["id"] = f"{model}-{i}"
            line["response"]["model"] = model
            rows.append(line)
            refs.append(f"{model}-{i},{TOPICS[i % 3]}")
    write_jsonl(root / "calls.jsonl", rows)
    (root / "refs.csv").write_text("\n".join(refs) + "\n")
    args = ["--workspace", str(root / ".curate"), "--config", str(root / "curate.toml")]
    runner = CliRunner()
    ingest = [*args, "ingest", str(root / "calls.jsonl"), "--task", "topic"]
    assert runner.invoke(main, [*ingest, "--references", str(root / "refs.csv")]).exit_code == 0
    assert runner.invoke(main, [*args, "detect"]).exit_code == 0
    return args, runner


def _compare(project) -> dict:
    args, runner = project
    result = runner.invoke(
        main, [*args, "report", "--compare", "gpt-4o-mini", FINE_TUNED, "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["compare"]


def test_format_failures_fixed_in_part_and_decisions_unchanged(project):
    data = _compare(project)
    assert (data["a"]["kind"], data["b"]["kind"]) == ("model", "model")
    assert data["a"]["calls"] == data["b"]["calls"] == N
    fmt, decision = data["by_triage"]["format"], data["by_triage"]["decision"]
    assert (fmt["a"]["failures"], fmt["b"]["failures"]) == (90, 30)
    assert fmt["verdict"] == "improved"
    assert fmt["paired"] | {"p_value": None} == {
        "inputs": N,
        "only_a_failed": 60,
        "only_b_failed": 0,
        "p_value": None,
        "test": "mcnemar-chi2",
    }
    assert (decision["a"]["failures"], decision["b"]["failures"]) == (60, 60)
    assert decision["verdict"] == "unchanged"
    assert decision["paired"]["only_a_failed"] == decision["paired"]["only_b_failed"] == 0
    assert data["any_failure"]["verdict"] == "improved"


def test_the_figures_match_an_independent_computation(project):
    from scipy.stats import binomtest, chi2, norm

    fmt = _compare(project)["by_triage"]["format"]
    # McNemar with continuity correction, by hand: (|b - c| - 1)^2 / (b + c), 1 degree of freedom
    assert fmt["paired"]["p_value"] == pytest.approx(
        chi2.sf((60 - 1) ** 2 / 60, 1), rel=1e-4, abs=0
    )
    # exact McNemar: a two-sided binomial test on the discordant pairs
    assert mcnemar_p(3, 9) == pytest.approx(binomtest(3, 12, 0.5).pvalue, rel=1e-4, abs=0)
    z = norm.ppf(0.975)

    def wilson_by_hand(k, n):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return centre - half, centre + half

    for k, n in ((90, 300), (30, 300), (0, 40), (7, 7)):
        assert wilson(k, n) == pytest.approx(wilson_by_hand(k, n), abs=1e-4)
    assert fmt["a"]["ci"] == pytest.approx(wilson_by_hand(90, 300), abs=1e-4)
    # Newcombe's hybrid score interval of p_b - p_a from the two Wilson intervals
    (la, ua), (lb, ub) = wilson_by_hand(90, 300), wilson_by_hand(30, 300)
    pa, pb = 0.3, 0.1
    low = (pb - pa) - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = (pb - pa) + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    assert newcombe(30, 300, 90, 300) == pytest.approx([low, high], abs=1e-4)
    assert fmt["difference_ci"] == pytest.approx([low, high], abs=1e-4)


def test_the_comparison_reads_for_people(project):
    args, runner = project
    result = runner.invoke(main, [*args, "report", "--compare", "gpt-4o-mini", FINE_TUNED])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "Did B fix what broke?" in said and "improved" in said and "unchanged" in said
    assert "A = gpt-4o-mini (model" in said and f"B = {FINE_TUNED} (model" in said


def test_an_unknown_side_says_what_there_is(project):
    args, runner = project
    result = runner.invoke(main, [*args, "report", "--compare", "gpt-4o-mini", "gpt-5"])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "'gpt-5' is neither a model nor a prompt_version" in said and FINE_TUNED in said


def test_the_html_report_shows_the_comparison(project, tmp_path):
    from tests.conftest import draw_in_chromium

    args, runner = project
    page = tmp_path / "compare.html"
    result = runner.invoke(
        main, [*args, "report", "--compare", "gpt-4o-mini", FINE_TUNED, "--html", str(page)]
    )
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert "<h2>Did B fix what broke?</h2>" in text and "<td>improved</td>" in text
    traces, _ = draw_in_chromium(page, tmp_path / "compare.png")
    assert all(n >= 1 for n in traces) and len(traces) == text.count('class="plotly-graph-div"')


@pytest.mark.parametrize(
    ("period", "message"),
    [
        ("2026-02-30..2026-03-01", "not a period of real dates"),
        ("2026-03-01..2026-02-01", "the period ends before it starts"),
    ],
)
def test_impossible_periods_are_named(project, period, message):
    args, runner = project
    result = runner.invoke(main, [*args, "report", "--compare", period, "2026-01-01..2026-01-02"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message in " ".join(result.output.split()) and period in result.output
