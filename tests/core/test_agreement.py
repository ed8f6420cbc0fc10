"""Agreement between annotators, checked against textbook examples with published values."""

from __future__ import annotations

import json

import polars as pl
import pytest

from curate.core.annotations import agreement
from curate.core.tables import ANNOTATIONS_SCHEMA


def _rows(answers: dict[str, dict[str, str]], swap_order: bool = True) -> pl.DataFrame:
    """{record: {user: value}} as `annotations` rows; who answered first varies by record."""
    rows = []
    for n, (record, by_user) in enumerate(sorted(answers.items())):
        users = sorted(by_user)
        if swap_order and n % 2:
            users.reverse()  # on every other record, the other annotator answered first
        for minute, user in enumerate(users):
            rows.append(
                {
                    "record_id": record,
                    "dataset": "d",
                    "task": "t",
                    "user_id": f"id-{user}",
                    "username": user,
                    "status": "submitted",
                    "question": "label",
                    "value": json.dumps(by_user[user]),
                    "answered_at": f"2026-11-28T10:{minute:02d}:00",
                    "pulled_at": "2026-11-28T11:00:00",
                }
            )
    return pl.DataFrame(rows, schema=ANNOTATIONS_SCHEMA)


def test_cohen_kappa_per_pair_whatever_the_order_of_answers():
    """Wikipedia's example: 50 items, yes/yes 20, yes/no 5, no/yes 10, no/no 15: kappa 0.4."""
    cells = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    answers = {f"r{i:02d}": {"a": x, "b": y} for i, (x, y) in enumerate(cells)}
    label = agreement(_rows(answers))["label"]
    assert label["kappa_kind"] == "cohen" and label["kappa"] == pytest.approx(0.4, abs=5e-5)
    assert label["pairs"] == [
        {"annotators": ["a", "b"], "records": 50, "percent_agreement": 0.7, "kappa": 0.4}
    ]


def test_fleiss_kappa_of_fourteen_raters():
    """Wikipedia's example: 10 subjects, 14 raters, 5 categories: kappa 0.210."""
    table = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    answers = {}
    for s, counts in enumerate(table):
        values = [c for c, n in zip("12345", counts, strict=True) for _ in range(n)]
        answers[f"s{s}"] = {f"u{i:02d}": v for i, v in enumerate(values)}
    label = agreement(_rows(answers, swap_order=False))["label"]
    assert label["fleiss_kappa"] == {
        "kappa": pytest.approx(0.2099, abs=1e-4),
        "records": 10,
        "raters": 14,
    }
    assert len(label["pairs"]) == 14 * 13 // 2


def test_krippendorff_alpha_with_missing_answers():
    """Krippendorff (2011), 'Computing Krippendorff's alpha-reliability': 4 coders, 12 units,
    some answers missing; nominal alpha 0.743."""
    coders = {
        "A": "1 2 3 3 2 1 4 1 2 . . .",
        "B": "1 2 3 3 2 2 4 1 2 5 . 3",
        "C": ". 3 3 3 2 3 4 2 2 5 1 .",
        "D": "1 2 3 3 2 4 4 1 2 5 1 .",
    }
    answers: dict[str, dict[str, str]] = {}
    for coder, line in coders.items():
        for unit, value in enumerate(line.split()):
            if value != ".":
                answers.setdefault(f"u{unit:02d}", {})[coder] = value
    label = agreement(_rows(answers))["label"]
    # unit 12 has one answer: no pairable value, left out as Krippendorff leaves it out
    assert label["records"] == 11 and label["annotators"] == 4
    assert label["kappa_kind"] == "krippendorff_alpha"
    assert label["krippendorff_alpha"] == pytest.approx(0.743, abs=5e-4)
    # every record keeps all its annotators: pairs over what each pair shares
    by_pair = {tuple(p["annotators"]): p["records"] for p in label["pairs"]}
    assert by_pair[("A", "B")] == 9 and by_pair[("B", "D")] == 10


def test_no_shared_records_and_one_category():
    alone = agreement(_rows({"r1": {"a": "x"}, "r2": {"b": "y"}}))["label"]
    assert alone["records"] == 0 and alone["kappa"] is None and alone["pairs"] == []
    same = agreement(_rows({f"r{i}": {"a": "x", "b": "x"} for i in range(5)}))["label"]
    assert same["percent_agreement"] == 1.0 and same["kappa"] is None  # undefined, not NaN
