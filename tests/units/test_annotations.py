"""Annotators' answers without a server: the latest answer per person, every agreement figure
against its published formula (tests/units/formulas.py) on cases where the figures differ, and
every resolution policy on both sides of its rule."""

from __future__ import annotations

import json

import polars as pl
import pytest

from curate.core.annotations import (
    _alpha,
    _fleiss,
    agreement,
    cohen_kappa,
    kappa_with_interval,
    latest_answers,
    resolve,
)
from curate.core.tables import ANNOTATIONS_SCHEMA
from tests.units.formulas import (
    cohen_kappa_by_formula,
    fleiss_kappa_by_formula,
    krippendorff_alpha_nominal,
)

# two raters, 3 categories, unequal marginals: Cohen's kappa and Krippendorff's alpha differ
LEFT = list("aaaaaaaaaaaabbbc")
RIGHT = list("aaaaaabbbbbbcccc")


def _answers(rows: list[tuple]) -> pl.DataFrame:
    """(record_id, username, value, status, answered_at) -> annotation rows of one question."""
    return pl.DataFrame(
        [
            {
                "record_id": r,
                "dataset": "d",
                "task": "t",
                "user_id": f"id-{who}",
                "username": who,
                "status": status,
                "question": "label",
                "value": json.dumps(value),
                "answered_at": at,
                "pulled_at": "2026-12-01T00:00:00",
            }
            for r, who, value, status, at in rows
        ],
        schema=ANNOTATIONS_SCHEMA,
    )


def test_cohen_kappa_is_the_formula_where_it_is_not_alpha():
    kappa = cohen_kappa(LEFT, RIGHT)
    expected = cohen_kappa_by_formula(LEFT, RIGHT)
    alpha = krippendorff_alpha_nominal(list(zip(LEFT, RIGHT, strict=True)))
    assert abs(expected - alpha) > 0.05  # the two figures are told apart here
    assert kappa == pytest.approx(expected, abs=5e-5)  # rounded to 4 places
    # the order of the two raters does not change kappa
    assert cohen_kappa(RIGHT, LEFT) == kappa


def test_kappa_has_its_interval_and_none_for_one_category():
    kappa, (low, high) = kappa_with_interval(LEFT, RIGHT)
    assert low < kappa < high and high - kappa == pytest.approx(kappa - low, abs=2e-4)
    assert 0.1 < high - low < 1.0
    assert kappa_with_interval(["a"] * 5, ["a"] * 5) == (None, None)
    # two categories in all, even if each rater used one
    assert kappa_with_interval(["a", "a"], ["b", "b"])[0] == pytest.approx(0.0, abs=1e-9)


def test_alpha_with_missing_answers_is_krippendorffs():
    rows = [
        ("a", "a", None),
        ("a", "b", "a"),
        ("b", "b", "b"),
        (None, "c", "c"),
        ("c", None, None),  # one answer: not pairable, no weight
        ("a", "a", "b"),
        ("b", "c", "c"),
    ]
    assert _alpha(rows) == pytest.approx(krippendorff_alpha_nominal(rows), abs=5e-5)
    assert _alpha([("a", "a"), ("a", None)]) is None  # one category
    assert _alpha(list(zip(LEFT, RIGHT, strict=True))) != cohen_kappa(LEFT, RIGHT)


def test_fleiss_uses_the_most_common_number_of_raters():
    three = [("a", "a", "a"), ("a", "b", "a"), ("b", "b", "b"), ("a", "b", "c"), ("c", "c", "a")]
    rows = [*three, ("a", "b", None), ("b", None, None)]  # two of three people: left out
    got = _fleiss(rows)
    assert got["records"] == 5 and got["raters"] == 3
    assert got["kappa"] == pytest.approx(
        fleiss_kappa_by_formula([list(r) for r in three]), abs=5e-5
    )
    assert _fleiss([("a", "a"), ("a", "a")]) is None


def test_the_latest_answer_of_each_person_counts():
    answers = _answers(
        [
            ("r1", "ann", "match", "submitted", "2026-12-01T10:00:00"),
            ("r1", "ann", "non_match", "submitted", "2026-12-01T11:00:00"),  # changed her mind
            ("r1", "bob", "non_match", "submitted", "2026-12-01T09:00:00"),
        ]
    )
    latest = latest_answers(answers.reverse())  # the order of the rows does not matter
    assert latest.height == 2
    ann = latest.filter(pl.col("username") == "ann")
    assert json.loads(ann["value"].item()) == "non_match"


def test_agreement_by_person_on_the_records_two_answered():
    rows = [(f"r{i}", "ann", a, "submitted", "t") for i, a in enumerate(LEFT)]
    rows += [(f"r{i}", "bob", b, "submitted", "t") for i, b in enumerate(RIGHT)]
    rows += [("solo", "ann", "a", "submitted", "t"), ("r0", "cid", "a", "draft", "t")]
    summary = agreement(latest_answers(_answers(rows)))["label"]
    agree = sum(a == b for a, b in zip(LEFT, RIGHT, strict=True)) / len(LEFT)
    assert summary["records"] == len(LEFT) and summary["annotators"] == 2
    assert summary["percent_agreement"] == pytest.approx(agree, abs=5e-5)
    assert summary["kappa_kind"] == "cohen"
    assert summary["kappa"] == pytest.approx(cohen_kappa_by_formula(LEFT, RIGHT), abs=5e-5)
    assert summary["pairs"] == [
        {
            "annotators": ["ann", "bob"],
            "records": len(LEFT),
            "percent_agreement": pytest.approx(agree, abs=5e-5),
            "kappa": summary["kappa"],
        }
    ]


def test_three_people_are_summed_up_by_alpha():
    rows = []
    table = [("a", "a", "a"), ("a", "b", "a"), ("b", "b", None), ("c", "c", "b"), ("a", "a", "a")]
    for i, answers in enumerate(table):
        rows += [
            (f"r{i}", who, v, "submitted", "t")
            for who, v in zip(("ann", "bob", "cid"), answers, strict=True)
            if v is not None
        ]
    summary = agreement(latest_answers(_answers(rows)))["label"]
    assert summary["kappa_kind"] == "krippendorff_alpha" and summary["annotators"] == 3
    assert summary["kappa"] == pytest.approx(krippendorff_alpha_nominal(table), abs=5e-5)
    assert summary["percent_agreement"] == pytest.approx(3 / 5, abs=5e-5)
    assert [p["annotators"] for p in summary["pairs"]] == [
        ["ann", "bob"],
        ["ann", "cid"],
        ["bob", "cid"],
    ]
    assert [p["records"] for p in summary["pairs"]] == [5, 4, 4]
    assert summary["fleiss_kappa"]["records"] == 4


def _resolve(policy: str, answers: list[tuple[str, str]], prefer: str | None = None):
    rows = [("r1", who, value, "submitted", f"t{i}") for i, (who, value) in enumerate(answers)]
    frame, conflicts = resolve(latest_answers(_answers(rows)), policy, prefer)
    if frame.height:
        return json.loads(frame["value"].item()), conflicts
    return None, conflicts


@pytest.mark.parametrize(
    ("policy", "answers", "prefer", "decided"),
    [
        ("majority", [("a", "x"), ("b", "x"), ("c", "y")], None, "x"),
        ("majority", [("a", "x"), ("b", "y")], None, None),  # a tie is no majority
        ("majority", [("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")], None, None),
        ("majority", [("a", "x")], None, "x"),
        ("unanimous", [("a", "x"), ("b", "x")], None, "x"),
        ("unanimous", [("a", "x"), ("b", "x"), ("c", "y")], None, None),  # a majority is not all
        ("prefer-user", [("a", "x"), ("b", "y"), ("c", "y")], "a", "x"),  # a wins against two
        ("prefer-user", [("a", "x"), ("b", "y"), ("c", "y")], "z", "y"),  # z absent: majority
        ("prefer-user", [("a", "x"), ("b", "y")], "z", None),
    ],
)
def test_each_policy_on_both_sides_of_its_rule(policy, answers, prefer, decided):
    value, conflicts = _resolve(policy, answers, prefer)
    assert value == decided
    if decided is None:
        assert conflicts == [
            {"record_id": "r1", "question": "label", "answers": dict(answers)},
        ]
    else:
        assert conflicts == []


def test_a_resolved_answer_says_who_and_by_what_policy():
    rows = [
        ("r1", "bob", "x", "submitted", "t"),
        ("r1", "ann", "x", "submitted", "t"),
        ("r2", "ann", "y", "submitted", "t"),
        ("r2", "bob", "y", "discarded", "t"),
        ("r3", "ann", "z", "draft", "t"),  # a draft is no answer
    ]
    frame, conflicts = resolve(latest_answers(_answers(rows)), "majority", None)
    assert conflicts == []
    assert frame.sort("record_id").to_dicts() == [
        {
            "record_id": "r1",
            "question": "label",
            "value": '"x"',
            "annotators": ["ann", "bob"],
            "policy": "majority",
            "discarded_by_someone": False,
        },
        {
            "record_id": "r2",
            "question": "label",
            "value": '"y"',
            "annotators": ["ann"],
            "policy": "majority",
            "discarded_by_someone": True,
        },
    ]
    anonymous = _answers([("r1", None, "x", "submitted", "t")])
    frame, _ = resolve(anonymous, "majority", None)
    assert frame["annotators"].to_list() == [["?"]]


def test_the_kappa_interval_is_its_standard_error_either_side():
    from tests.units.formulas import Z, cohen_kappa_se

    _, (low, high) = kappa_with_interval(LEFT, RIGHT)
    se = cohen_kappa_se(LEFT, RIGHT)
    expected = cohen_kappa_by_formula(LEFT, RIGHT)
    assert low == pytest.approx(round(expected - Z * se, 4), abs=1e-4)
    assert high == pytest.approx(round(expected + Z * se, 4), abs=1e-4)
    with pytest.raises(ValueError):
        kappa_with_interval(["a", "b"], ["a"])  # one answer each, record by record


def test_two_categories_are_enough_for_alpha_and_fleiss():
    rows = [("a", "a", "b"), ("a", "a", "a"), ("b", "b", "b"), ("b", "a", "b")]
    assert _alpha(rows) == pytest.approx(krippendorff_alpha_nominal(rows), abs=5e-5)
    assert _fleiss(rows)["kappa"] == pytest.approx(
        fleiss_kappa_by_formula([list(r) for r in rows]), abs=5e-5
    )


def test_figures_are_rounded_to_four_places_and_nan_is_none():
    from curate.core.annotations import _rounded

    assert _rounded(2 / 3) == 0.6667 and _rounded(float("nan")) is None
    left, right = ["a", "a", "b"], ["a", "b", "b"]  # agree on 2 of 3
    rows = [(f"r{i}", "ann", a, "submitted", "t") for i, a in enumerate(left)]
    rows += [(f"r{i}", "bob", b, "submitted", "t") for i, b in enumerate(right)]
    summary = agreement(latest_answers(_answers(rows)))["label"]
    assert summary["percent_agreement"] == 0.6667
    assert summary["pairs"][0]["percent_agreement"] == 0.6667


def test_a_pair_sharing_one_record_counts_and_every_pair_is_seen():
    rows = [
        ("r1", "ann", "a", "submitted", "t"),
        ("r1", "bob", "a", "submitted", "t"),
        ("r2", "bob", "b", "submitted", "t"),
        ("r2", "cid", "b", "submitted", "t"),
        ("r3", "bob", "a", "submitted", "t"),
        ("r3", "cid", "b", "submitted", "t"),
    ]
    summary = agreement(latest_answers(_answers(rows)))["label"]
    # ann and cid share no record: no pair; ann and bob share one; bob and cid two
    assert [(p["annotators"], p["records"]) for p in summary["pairs"]] == [
        (["ann", "bob"], 1),
        (["bob", "cid"], 2),
    ]


def test_no_shared_record_leaves_every_figure_empty():
    rows = [("r1", "ann", "a", "submitted", "t"), ("r2", "bob", "b", "submitted", "t")]
    assert agreement(latest_answers(_answers(rows))) == {
        "label": {
            "records": 0,
            "annotators": 2,
            "percent_agreement": None,
            "pairs": [],
            "krippendorff_alpha": None,
            "fleiss_kappa": None,
            "kappa": None,
            "kappa_kind": None,
        }
    }


def test_a_person_without_a_username_is_their_user_id():
    frame = _answers(
        [("r1", "ann", "a", "submitted", "t"), ("r1", "bob", "a", "submitted", "t")]
    ).with_columns(pl.lit(None, pl.String).alias("username"))
    summary = agreement(latest_answers(frame))["label"]
    assert summary["pairs"][0]["annotators"] == ["id-ann", "id-bob"]
    # two accounts under one name: one person, their last answer
    same_name = _answers(
        [("r1", "ann", "a", "submitted", "t"), ("r1", "bob", "b", "submitted", "t")]
    ).with_columns(pl.lit("pat").alias("username"))
    assert agreement(latest_answers(same_name))["label"]["annotators"] == 1


def test_the_latest_answer_per_question_and_by_pull_time_on_a_tie():
    rows = [
        ("r1", "ann", "x", "submitted", "2026-12-01T10:00:00"),
        ("r1", "ann", "y", "submitted", "2026-12-01T10:00:00"),
    ]
    frame = _answers(rows).with_columns(
        pl.Series("pulled_at", ["2026-12-02T00:00:00", "2026-12-01T00:00:00"])
    )
    latest = latest_answers(frame)
    assert json.loads(latest["value"].item()) == "x"  # pulled later
    two = _answers(rows).with_columns(pl.Series("question", ["label", "is_failure"]))
    assert sorted(latest_answers(two)["question"]) == ["is_failure", "label"]


def test_majority_with_nameless_annotators_and_every_record_resolved():
    rows = [
        ("r1", None, "x", "submitted", "t1"),
        ("r1", None, "y", "submitted", "t2"),
        ("r2", None, "y", "submitted", "t1"),
    ]
    frame = _answers(rows).with_columns(pl.Series("user_id", ["u1", "u2", "u1"]))
    resolved, conflicts = resolve(latest_answers(frame), "majority", None)
    assert conflicts == [{"record_id": "r1", "question": "label", "answers": {"?": "y"}}]
    assert resolved["record_id"].to_list() == ["r2"]  # the record after a conflict too
    majority = _answers([("r1", None, v, "submitted", f"t{i}") for i, v in enumerate("xyy")])
    majority = majority.with_columns(pl.Series("user_id", ["u1", "u2", "u3"]))
    resolved, _ = resolve(latest_answers(majority), "majority", None)
    assert json.loads(resolved["value"].item()) == "y"


def test_a_first_pair_with_nothing_shared_does_not_hide_the_next():
    rows = [
        ("r1", "ann", "a", "submitted", "t"),
        ("r1", "cid", "a", "submitted", "t"),
        ("r2", "bob", "b", "submitted", "t"),
    ]
    pairs = agreement(latest_answers(_answers(rows)))["label"]["pairs"]
    assert [p["annotators"] for p in pairs] == [["ann", "cid"]]
