"""compare's figures without a workspace: the sides, the statistics against independent
computations (scipy, formulas), and every verdict on both sides of its threshold."""

from __future__ import annotations

import pytest

from curate.report.compare import mcnemar_p, newcombe, wilson
from tests.units.formulas import newcombe_by_formula, wilson_by_formula


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
    from curate.report.compare import compare

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
    assert row["paired"]["p_value"] == pytest.approx(0.0625, rel=1e-12)
    assert row["verdict"] == "unchanged"
    nickname = data["by_edge_case"]["nickname"]  # the even records: inputs 0, 2, 4, ...
    assert (nickname["a"]["calls"], nickname["a"]["failures"]) == (20, 10)
    assert (nickname["b"]["calls"], nickname["b"]["failures"]) == (20, 5)


def test_prompt_versions_are_sides_too():
    from curate.report.compare import compare

    records, findings, _ = _frames()
    data = compare(records, findings, None, "v1", "v2")
    assert (data["a"]["kind"], data["b"]["kind"]) == ("prompt_version", "prompt_version")
    assert data["by_edge_case"] == {}


def test_overlapping_sides_are_refused():
    from curate.core.errors import ConfigError
    from curate.report.compare import compare

    records, findings, _ = _frames()
    with pytest.raises(ConfigError, match=r"40 calls are both"):
        compare(records, findings, None, "v1", "2026-10-01..2026-10-31")


def test_a_row_one_side_lacks_says_so():
    """An edge case only A has calls of (the sample: entity pairs against a ticket model) is
    a row 'not on both sides', not a TypeError."""
    import polars as pl

    from curate.report.compare import ONE_SIDED, compare

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

    from curate.core.errors import ConfigError
    from curate.report.compare import compare, model_families

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
    from curate.report.compare import _verdict, newcombe

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


# -- every figure of a row, and the sides, written out by hand -------------------------------


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (0, 7), (3, 10), (90, 300), (299, 300)])
def test_wilson_is_the_score_interval(k, n):
    assert wilson(k, n) == pytest.approx(wilson_by_formula(k, n), rel=1e-9, abs=1e-12)


def test_wilson_differs_from_the_normal_interval():
    # the Wald interval of 1/10 goes below 0; the score interval never does
    # Newcombe (1998), table I: 1 of 10 -> 0.0179 to 0.4042
    assert wilson(1, 10) == pytest.approx([0.0179, 0.4042], abs=5e-5)
    assert wilson(0, 0) is None


@pytest.mark.parametrize(
    ("k_b", "n_b", "k_a", "n_a"), [(30, 300, 90, 300), (0, 1, 1, 1), (5, 20, 1, 40), (7, 9, 2, 3)]
)
def test_newcombe_is_the_hybrid_score_interval_of_b_minus_a(k_b, n_b, k_a, n_a):
    assert newcombe(k_b, n_b, k_a, n_a) == pytest.approx(
        newcombe_by_formula(k_b, n_b, k_a, n_a), rel=1e-9, abs=1e-12
    )
    # B - A, not A - B: the interval flips with the sides
    low, high = newcombe(k_a, n_a, k_b, n_b)
    assert [-high, -low] == pytest.approx(newcombe(k_b, n_b, k_a, n_a), rel=1e-9, abs=1e-12)


def test_newcombe_needs_calls_on_both_sides():
    assert newcombe(0, 0, 1, 5) is None and newcombe(1, 5, 0, 0) is None
    assert newcombe(0, 1, 0, 1) is not None


def test_mcnemar_of_equal_counts_is_one_and_of_one_side_only_is_exact():
    assert mcnemar_p(3, 3) == pytest.approx(1.0, rel=1e-12)
    assert mcnemar_p(0, 5) == pytest.approx(2 * 0.5**5, rel=1e-12)  # 0.0625
    assert mcnemar_p(1, 0) == pytest.approx(1.0, rel=1e-12)


def _decide(a_fail, b_fail, *, inputs=0, only_a=0, only_b=0, p=None, ci=(-1.0, 1.0)):
    from curate.report.compare import _verdict

    return _verdict(
        {
            "a": {"failures": a_fail, "calls": 100, "rate": a_fail / 100},
            "b": {"failures": b_fail, "calls": 100, "rate": b_fail / 100},
            "difference_ci": list(ci),
            "paired": {
                "inputs": inputs,
                "only_a_failed": only_a,
                "only_b_failed": only_b,
                "p_value": p,
            },
        }
    )


def test_the_paired_verdict_at_p_005_and_at_every_direction():
    paired = {"inputs": 100}
    assert _decide(30, 5, **paired, only_a=25, only_b=0, p=0.05) == "unchanged"  # not < 0.05
    assert _decide(30, 5, **paired, only_a=25, only_b=0, p=0.0499) == "improved"
    assert _decide(1, 0, **paired, only_a=1, only_b=0, p=0.01) == "fixed"  # one failure, gone
    assert _decide(0, 30, **paired, only_a=0, only_b=30, p=0.001) == "worse"  # none before
    assert _decide(0, 1, **paired, only_a=0, only_b=1, p=0.01) == "worse"  # one, from none
    assert _decide(10, 11, **paired, only_a=4, only_b=5, p=0.01) == "worse"  # direction 1
    assert _decide(11, 10, **paired, only_a=5, only_b=4, p=0.01) == "improved"  # direction -1
    assert _decide(10, 10, **paired, only_a=5, only_b=5, p=0.01) == "unchanged"  # direction 0
    assert _decide(10, 10, **paired, only_a=0, only_b=0, p=None) == "unchanged"


def test_the_unpaired_verdict_at_an_interval_touching_zero():
    unpaired = {"inputs": 9}
    assert _decide(10, 20, **unpaired, ci=(0.0, 0.2)) == "unchanged"  # touches 0
    assert _decide(10, 20, **unpaired, ci=(1e-9, 0.2)) == "worse"
    assert _decide(10, 20, **unpaired, ci=(0.5, 0.9)) == "worse"
    assert _decide(20, 10, **unpaired, ci=(-0.2, 0.0)) == "unchanged"
    assert _decide(20, 10, **unpaired, ci=(-0.2, -1e-9)) == "improved"
    assert _decide(20, 10, **unpaired, ci=(-0.9, -0.5)) == "improved"
    assert _decide(20, 10, **unpaired, ci=(-0.1, 0.2)) == "unchanged"
    assert _decide(20, 0, **unpaired, ci=(-0.3, -0.1)) == "fixed"
    # the paired test decides from 10 matched inputs, whatever the interval says
    assert _decide(20, 10, inputs=10, only_a=3, only_b=1, p=0.6, ci=(-0.3, -0.1)) == "unchanged"
    # no failure on either side: unchanged without looking at any test
    assert _decide(0, 0, inputs=100, only_a=0, only_b=0, p=0.001) == "unchanged"


def test_a_side_without_calls_is_one_sided():
    from curate.report.compare import ONE_SIDED, _verdict

    row = {"a": {"calls": 0, "failures": 0}, "b": {"calls": 5, "failures": 1}}
    assert _verdict(row) == ONE_SIDED
    assert _verdict({"a": row["b"], "b": row["a"]}) == ONE_SIDED


def _failed(rows):
    import polars as pl

    return pl.DataFrame(
        rows,
        schema={"input_hash": pl.UInt64, "side": pl.String, "failed": pl.Boolean},
        orient="row",
    )


def test_a_row_from_its_calls():
    from scipy.stats import binomtest

    from curate.report.compare import _row

    rows = [
        (1, "a", True), (1, "a", False), (1, "b", False),  # input 1: only A failed (any call)
        (2, "a", True), (2, "b", True),  # both failed: not discordant
        (3, "a", False), (3, "b", True),  # only B failed
        (4, "a", False), (4, "b", False),
        (5, "a", True),  # only A answered input 5: not matched
        (None, "b", True),  # no input hash: counted in the rates, never matched
    ]  # fmt: skip
    row = _row(_failed(rows))
    assert row["a"] | {"ci": None} == {"calls": 6, "failures": 3, "rate": 3 / 6, "ci": None}
    assert row["b"] | {"ci": None} == {"calls": 5, "failures": 3, "rate": 3 / 5, "ci": None}
    assert row["a"]["ci"] == pytest.approx(wilson_by_formula(3, 6), rel=1e-9)
    assert row["b"]["ci"] == pytest.approx(wilson_by_formula(3, 5), rel=1e-9)
    assert row["difference"] == pytest.approx(3 / 5 - 3 / 6, rel=1e-12)
    assert row["difference_ci"] == pytest.approx(newcombe_by_formula(3, 5, 3, 6), rel=1e-9)
    assert row["paired"] | {"p_value": None} == {
        "inputs": 4,
        "only_a_failed": 1,
        "only_b_failed": 1,
        "p_value": None,
        "test": "mcnemar-exact",
    }
    assert row["paired"]["p_value"] == pytest.approx(binomtest(1, 2, 0.5).pvalue, rel=1e-12)
    assert row["verdict"] == "unchanged"


def test_a_row_with_no_matched_input_has_no_pairs():
    from curate.report.compare import _row

    row = _row(_failed([(1, "a", True), (2, "b", False), (3, "b", True)]))
    assert row["paired"] == {
        "inputs": 0,
        "only_a_failed": 0,
        "only_b_failed": 0,
        "p_value": None,
        "test": "mcnemar-exact",
    }
    assert row["difference"] == pytest.approx(0.5 - 1.0, rel=1e-12)
    one_side = _row(_failed([(1, "a", True), (2, "a", False)]))
    assert one_side["b"] == {"calls": 0, "failures": 0, "rate": None, "ci": None}
    assert one_side["difference"] is None and one_side["difference_ci"] is None
    assert one_side["paired"]["inputs"] == 0


@pytest.mark.parametrize(("only_a", "test"), [(24, "mcnemar-exact"), (25, "mcnemar-chi2")])
def test_the_row_names_the_test_it_made(only_a, test):
    from curate.report.compare import _row

    rows = [(i, s, s == "a") for i in range(only_a) for s in ("a", "b")]
    rows += [(1000, "a", False), (1000, "b", True)]  # one pair the other way
    row = _row(_failed(rows))
    assert row["paired"]["test"] == ("mcnemar-chi2" if only_a + 1 >= 25 else test)
    assert (row["paired"]["only_a_failed"], row["paired"]["only_b_failed"]) == (only_a, 1)
    assert row["paired"]["p_value"] == pytest.approx(mcnemar_p(only_a, 1), rel=1e-12)


def _days():
    from datetime import UTC, datetime

    import polars as pl

    days = [datetime(2026, 10, d, 12, tzinfo=UTC) for d in (4, 5, 6, 7, 8)]
    return pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(5)],
            "input_hash": [1, 2, 3, 4, 5],
            "model": ["m"] * 5,
            "prompt_version": ["v1"] * 5,
            "timestamp": days,
        },
        schema_overrides={"input_hash": pl.UInt64},
    )


def test_a_period_holds_both_its_first_and_its_last_day():
    from curate.report.compare import side

    records = _days()
    where, kind, models = side(records, "2026-10-05..2026-10-07")
    assert (kind, models) == ("period", [])
    assert records.filter(where)["record_id"].to_list() == ["r1", "r2", "r3"]
    where, _, _ = side(records, "2026-10-06..2026-10-06")  # one day
    assert records.filter(where)["record_id"].to_list() == ["r2"]


def test_an_unknown_side_lists_what_there_is():
    import polars as pl

    from curate.core.errors import ConfigError
    from curate.report.compare import side

    records = _days().with_columns(
        pl.Series("model", [f"m{i}" for i in (9, 1, 2, 3, 4)]),
        pl.Series("prompt_version", [f"v{i}" for i in (9, 1, 2, 3, 4)]),
    )
    records = pl.concat(
        [records]
        + [
            records.with_columns(pl.col("model") + f"-{j}", pl.col("prompt_version") + f"-{j}")
            for j in range(2)
        ]
    )
    with pytest.raises(ConfigError) as raised:
        side(records, "nope")
    message = str(raised.value)
    assert message == (
        "--compare 'nope' is neither a model nor a prompt_version of these logs, nor a period "
        "YYYY-MM-DD..YYYY-MM-DD. Models: m1, m1-0, m1-1, m2, m2-0, m2-1, m3, m3-0; prompt "
        "versions: v1, v1-0, v1-1, v2, v2-0, v2-1, v3, v3-0"
    )
    empty = records.with_columns(
        pl.lit(None, pl.String).alias(c) for c in ("model", "prompt_version")
    )
    with pytest.raises(ConfigError, match=r"Models: none; prompt versions: none$"):
        side(empty, "nope")


def test_the_sides_name_their_kind():
    from curate.report.compare import side

    records = _days()
    assert side(records, "m")[1:] == ("model", ["m"])
    assert side(records, "v1")[1:] == ("prompt_version", [])


@pytest.mark.parametrize(
    ("period", "message"),
    [
        (
            "2026-02-30..2026-03-01",
            "--compare '2026-02-30..2026-03-01': not a period of real dates",
        ),
        (
            "2026-03-01..2026-02-28",
            "--compare '2026-03-01..2026-02-28': the period ends before it starts; write START..END",
        ),
    ],
)
def test_impossible_periods_say_why(period, message):
    from curate.core.errors import ConfigError
    from curate.report.compare import side

    with pytest.raises(ConfigError) as raised:
        side(_days(), period)
    assert str(raised.value).startswith(message)


def test_a_snapshot_whose_undated_name_is_absent_is_its_own_family():
    from curate.report.compare import model_families

    assert model_families(["gpt-4o-2024-08-06", "o3"]) == {
        "gpt-4o-2024-08-06": "gpt-4o-2024-08-06",
        "o3": "o3",
    }


def _sides_frames():
    import polars as pl

    records = pl.DataFrame(
        {
            "record_id": ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4", "x1"],
            "input_hash": [1, 2, 3, None, 1, 2, 3, None, 1],
            "model": ["old"] * 4 + ["new"] * 4 + [None],
            "prompt_version": ["p"] * 9,
            "timestamp": [None] * 9,
        },
        schema_overrides={"input_hash": pl.UInt64, "timestamp": pl.Datetime("us", "UTC")},
    )
    findings = pl.DataFrame(
        {
            "record_id": ["a1", "a1", "a2", "a4", "b2", "b3", "x1"],
            "detector": [
                *("invalid_json", "truncated", "refusal", "invalid_json", "refusal"),
                *("invalid_json", "invalid_json"),
            ],
            "triage": ["format", "config", "safety", "format", "safety", "format", "format"],
        }
    )
    tags = pl.DataFrame(
        {
            "record_id": ["a1", "a1", "a2", "b1", "b1", "b3", "a3"],
            "tag": ["nickname", "exact", "missing_both", "nickname", "different", "typo", "typo"],
        }
    )
    return records, findings, tags


def test_compare_counts_every_call_of_each_side_once():
    from curate.report.compare import compare

    records, findings, tags = _sides_frames()
    data = compare(records, findings, tags, "old", "new")
    # a call with no model (x1) is on neither side, and does not make the sides overlap
    assert data["a"] == {"name": "old", "kind": "model", "calls": 4, "models": ["old"]}
    assert data["b"] == {"name": "new", "kind": "model", "calls": 4, "models": ["new"]}
    anyf = data["any_failure"]
    assert (anyf["a"]["failures"], anyf["b"]["failures"]) == (3, 2)  # a1 counted once
    assert anyf["paired"] | {"p_value": None} == {
        "inputs": 3,  # inputs 1, 2, 3; the calls without an input hash are not matched
        "only_a_failed": 1,  # input 1
        "only_b_failed": 1,  # input 3
        "p_value": None,
        "test": "mcnemar-exact",
    }
    assert sorted(data["by_detector"]) == ["invalid_json", "refusal", "truncated"]
    assert data["by_detector"]["invalid_json"]["a"]["failures"] == 2
    assert data["by_detector"]["invalid_json"]["b"]["failures"] == 1
    assert data["by_detector"]["truncated"]["b"]["failures"] == 0
    # the triage classes in CLASSES order, only those present
    assert list(data["by_triage"]) == ["config", "safety", "format"]
    assert data["by_triage"]["safety"]["a"]["failures"] == 1
    # edge cases: only tags that name one ("exact", "missing_both", "different" do not)
    assert sorted(data["by_edge_case"]) == ["nickname", "typo"]
    nickname = data["by_edge_case"]["nickname"]
    assert (nickname["a"]["calls"], nickname["a"]["failures"]) == (1, 1)
    assert (nickname["b"]["calls"], nickname["b"]["failures"]) == (1, 0)
    typo = data["by_edge_case"]["typo"]
    assert (typo["a"]["calls"], typo["a"]["failures"], typo["b"]["failures"]) == (1, 0, 1)
    assert "notes" not in data


def test_compare_refuses_a_side_with_no_call():
    from curate.core.errors import ConfigError
    from curate.report.compare import compare

    records, findings, _ = _sides_frames()
    with pytest.raises(ConfigError) as raised:
        compare(records, findings, None, "old", "2030-01-01..2030-01-31")
    assert str(raised.value) == "--compare: no call is '2030-01-01..2030-01-31'"


def test_compare_says_when_no_input_is_common():
    from curate.report.compare import compare

    records, findings, _ = _sides_frames()
    records = records.filter(records["record_id"].is_in(["a4", "b1", "b2"]))
    data = compare(records, findings, None, "old", "new")
    assert data["notes"] == [
        "'old' and 'new' answered no input in common: the rates are of different calls, and no "
        "paired test can be made (log both sides on the same inputs)"
    ]


def test_overlapping_sides_say_how_many_calls_are_both():
    from curate.core.errors import ConfigError
    from curate.report.compare import compare

    records, findings, _ = _sides_frames()
    with pytest.raises(ConfigError) as raised:
        compare(records, findings, None, "old", "p")
    assert str(raised.value) == (
        "--compare 'old' 'p': 4 calls are both, so neither side would be what it says; compare "
        "sets that do not overlap (two models, two prompt versions, or two periods)"
    )


@pytest.mark.parametrize(
    ("p", "shown"),
    [
        (None, "-"),
        (0.0, "< 1e-300"),
        (1.0, "1.000"),
        (0.0499, "0.050"),
        (0.001, "0.001"),  # the last p shown in decimals
        (0.000999, "1.0e-03"),
        (2.4e-57, "2.4e-57"),
        (5e-324, "4.9e-324"),  # the smallest float above 0 is still a number
    ],
)
def test_p_values_for_people(p, shown):
    from curate.report.compare import format_p

    assert format_p(p) == shown
