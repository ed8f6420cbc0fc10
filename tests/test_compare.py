"""Before and after: a second model that fixes a planted share of format failures, and no
decision failure, must be reported as exactly that; the figures against an independent
computation."""

from __future__ import annotations

import json
import math

import pytest

from curate.cli import main
from curate.compare import mcnemar_p, newcombe, wilson
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
    assert fmt["paired"]["p_value"] == pytest.approx(chi2.sf((60 - 1) ** 2 / 60, 1), rel=1e-4)
    # exact McNemar: a two-sided binomial test on the discordant pairs
    assert mcnemar_p(3, 9) == pytest.approx(binomtest(3, 12, 0.5).pvalue, rel=1e-4)
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
    assert "before and after" in said and "improved" in said and "unchanged" in said


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


def _frames(n: int = 40):
    from datetime import UTC, datetime

    import polars as pl

    records = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(2 * n)],
            "input_hash": [i % n for i in range(2 * n)],
            "model": ["m"] * (2 * n),
            "prompt_version": ["v1"] * n + ["v2"] * n,
            "timestamp": [datetime(2026, 10, 5, tzinfo=UTC)] * n
            + [datetime(2026, 11, 5, tzinfo=UTC)] * n,
        },
        schema_overrides={"input_hash": pl.UInt64},
    )
    # October: every 4th input fails (format); November: every 8th
    failing = [f"r{i}" for i in range(n) if i % 4 == 0] + [
        f"r{n + i}" for i in range(n) if i % 8 == 0
    ]
    findings = pl.DataFrame(
        {"record_id": failing, "detector": ["invalid_json"] * len(failing), "triage": "format"}
    )
    tags = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(0, 2 * n, 2)],
            "field": "first_name",
            "tag": "nickname",
        }
    )
    return records, findings, tags


def test_periods_and_edge_cases():
    from curate.compare import compare

    records, findings, tags = _frames()
    data = compare(records, findings, tags, "2026-10-01..2026-10-31", "2026-11-01..2026-11-30")
    assert (data["a"]["kind"], data["a"]["calls"], data["b"]["calls"]) == ("period", 40, 40)
    row = data["by_detector"]["invalid_json"]
    assert (row["a"]["failures"], row["b"]["failures"]) == (10, 5)
    assert row["paired"] | {"p_value": None} == {
        "inputs": 40,
        "only_a_failed": 5,
        "only_b_failed": 0,
        "p_value": None,
        "test": "mcnemar-exact",
    }
    # 5 inputs fail only before, none only after: exact p = 2 * 0.5**5 = 0.0625, not < 0.05
    assert row["paired"]["p_value"] == pytest.approx(0.0625)
    assert row["verdict"] == "unchanged"
    nickname = data["by_edge_case"]["nickname"]  # the even records: inputs 0, 2, 4, ...
    assert (nickname["a"]["calls"], nickname["a"]["failures"]) == (20, 10)
    assert (nickname["b"]["calls"], nickname["b"]["failures"]) == (20, 5)


def test_prompt_versions_are_sides_too():
    from curate.compare import compare

    records, findings, _ = _frames()
    data = compare(records, findings, None, "v1", "v2")
    assert (data["a"]["kind"], data["b"]["kind"]) == ("prompt_version", "prompt_version")
    assert data["by_edge_case"] == {}


def test_overlapping_sides_are_refused():
    from curate.compare import compare
    from curate.errors import ConfigError

    records, findings, _ = _frames()
    with pytest.raises(ConfigError, match=r"40 calls are both"):
        compare(records, findings, None, "v1", "2026-10-01..2026-10-31")


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


def test_a_row_one_side_lacks_says_so():
    """An edge case only A has calls of (the sample: entity pairs against a ticket model) is
    a row 'not on both sides', not a TypeError."""
    import polars as pl

    from curate.compare import ONE_SIDED, compare

    records = pl.DataFrame(
        {
            "record_id": ["a1", "a2", "b1", "b2"],
            "input_hash": [1, 2, 3, 4],
            "model": ["old", "old", "new", "new"],
            "prompt_version": ["p", "p", "p", "p"],
            "timestamp": [None] * 4,
        },
        schema_overrides={"input_hash": pl.UInt64, "timestamp": pl.Datetime("us", "UTC")},
    )
    findings = pl.DataFrame(
        {"record_id": ["a1", "b2"], "detector": ["refusal", "refusal"], "triage": ["safety"] * 2}
    )
    tags = pl.DataFrame({"record_id": ["a1", "a2"], "tag": ["nickname", "nickname"]})
    data = compare(records, findings, tags, "old", "new")
    row = data["by_edge_case"]["nickname"]
    assert row["verdict"] == ONE_SIDED and row["b"]["calls"] == 0 and row["difference"] is None
    assert data["any_failure"]["paired"]["inputs"] == 0
    assert "answered no input in common" in data["notes"][0]


def test_a_model_name_covers_its_dated_snapshots():
    """Batch logs name a failed call by the model asked for and an answered one by the snapshot
    that answered: 'gpt-4.1-nano' is both; the snapshot alone is only itself."""
    import polars as pl

    from curate.compare import compare, model_families
    from curate.errors import ConfigError

    models = ["gpt-4.1-nano", "gpt-4.1-nano-2025-04-14", "gpt-4.1-nano-mini", "ft:x"]
    records = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(4)],
            "input_hash": [1, 1, 1, 1],
            "model": models,
            "prompt_version": ["p"] * 4,
            "timestamp": [None] * 4,
        },
        schema_overrides={"input_hash": pl.UInt64, "timestamp": pl.Datetime("us", "UTC")},
    )
    findings = pl.DataFrame(
        schema={"record_id": pl.String, "detector": pl.String, "triage": pl.String}
    )
    data = compare(records, findings, None, "gpt-4.1-nano", "ft:x")
    assert data["a"]["models"] == ["gpt-4.1-nano", "gpt-4.1-nano-2025-04-14"]
    assert data["a"]["calls"] == 2 and data["b"]["calls"] == 1
    assert compare(records, findings, None, "gpt-4.1-nano-2025-04-14", "ft:x")["a"]["calls"] == 1
    with pytest.raises(ConfigError, match="calls are both"):
        compare(records, findings, None, "gpt-4.1-nano", "gpt-4.1-nano-2025-04-14")
    assert model_families(models) == {
        "gpt-4.1-nano": "gpt-4.1-nano",
        "gpt-4.1-nano-2025-04-14": "gpt-4.1-nano",
        "gpt-4.1-nano-mini": "gpt-4.1-nano-mini",
        "ft:x": "ft:x",
    }


# -- the statistics at their boundaries, against independent computations --------------------


def test_mcnemar_switches_to_chi2_at_25_discordant_pairs_with_its_correction():
    from scipy.stats import binomtest, chi2

    # 24 discordant pairs: the exact binomial test
    assert mcnemar_p(5, 19) == pytest.approx(binomtest(5, 24, 0.5).pvalue, rel=1e-9)
    # 25: chi-square with the continuity correction, (|b - c| - 1)^2 / (b + c)
    corrected = chi2.sf((abs(5 - 20) - 1) ** 2 / 25, 1)
    assert mcnemar_p(5, 20) == pytest.approx(corrected, rel=1e-9)
    # the three readings differ enough that a swapped one fails
    assert abs(corrected - chi2.sf(15**2 / 25, 1)) > 1e-3
    assert abs(corrected - binomtest(5, 25, 0.5).pvalue) > 5e-4
    assert mcnemar_p(0, 0) is None
    assert mcnemar_p(7, 3) == mcnemar_p(3, 7)  # symmetric in its two counts


def _row(a_fail, a_calls, b_fail, b_calls, paired_inputs, only_a, only_b):
    from curate.compare import _verdict, newcombe

    return _verdict(
        {
            "a": {"failures": a_fail, "calls": a_calls, "rate": a_fail / a_calls},
            "b": {"failures": b_fail, "calls": b_calls, "rate": b_fail / b_calls},
            "difference_ci": newcombe(b_fail, b_calls, a_fail, a_calls),
            "paired": {
                "inputs": paired_inputs,
                "only_a_failed": only_a,
                "only_b_failed": only_b,
                "p_value": mcnemar_p(only_a, only_b),
            },
        }
    )


def test_verdicts_at_their_boundaries():
    # paired (10+ matched inputs): McNemar decides, in both directions
    assert _row(30, 100, 0, 100, 100, 30, 0) == "fixed"
    assert _row(30, 100, 5, 100, 100, 27, 2) == "improved"
    assert _row(5, 100, 30, 100, 100, 2, 27) == "worse"
    assert _row(10, 100, 9, 100, 100, 6, 5) == "unchanged"
    # p just over 0.05 is unchanged; just under is not (exact test, 24 pairs: 7 against 17)
    from scipy.stats import binomtest

    assert binomtest(7, 24, 0.5).pvalue > 0.05 > binomtest(6, 24, 0.5).pvalue
    assert _row(17, 100, 7, 100, 100, 17, 7) == "unchanged"
    assert _row(18, 100, 6, 100, 100, 18, 6) == "improved"
    # fewer than 10 matched inputs: the unpaired interval decides, though McNemar would not
    assert _row(40, 50, 5, 50, 9, 5, 0) == "improved"
    assert _row(40, 50, 5, 50, 10, 5, 0) == "unchanged"  # 10 inputs: McNemar, p = 0.0625
    assert _row(0, 50, 0, 50, 50, 0, 0) == "unchanged"
