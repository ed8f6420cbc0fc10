"""Annotator quality and the weighted vote, on scripted annotators: careful ones (right 95% of
the time), a careless one (random answers), and a gold share with known answers."""

from __future__ import annotations

import math
import random

import pytest

from curate.core.annotations import annotator_quality, resolve, vote_weight
from tests.core.test_agreement import _rows

LABELS = ("match", "non_match")


def _scripted(n: int, people: dict[str, float], seed: int = 7):
    """n records with a true label each, answered by every annotator: right with their
    accuracy, else the other label (a careless one: accuracy 0.5, a coin)."""
    rng = random.Random(seed)
    truth = {f"r{i:03d}": rng.choice(LABELS) for i in range(n)}
    answers = {
        record: {
            who: (label if rng.random() < accuracy else LABELS[1 - LABELS.index(label)])
            for who, accuracy in people.items()
        }
        for record, label in truth.items()
    }
    return truth, _rows(answers)


def _accuracy(resolved, truth) -> float:
    import json

    got = {r: json.loads(v) for r, v in resolved.select("record_id", "value").iter_rows()}
    return sum(got.get(r) == t for r, t in truth.items()) / len(truth)


def test_a_careless_annotator_gets_no_weight_and_careful_ones_do():
    people = {"ann": 0.95, "bea": 0.95, "cal": 0.95, "dee": 0.5}
    _, latest = _scripted(300, people)
    quality = annotator_quality(latest, "label")
    assert set(quality) == set(people)
    for who in ("ann", "bea", "cal"):
        assert quality[who]["agreement"] > 0.85 and quality[who]["kappa"] > 0.7
        low, high = quality[who]["kappa_interval"]
        assert low < quality[who]["kappa"] < high
        assert quality[who]["vote_weight"] > 1.5
    assert abs(quality["dee"]["kappa"]) < 0.2 and quality["dee"]["vote_weight"] < 0.3
    assert quality["dee"]["answers"] == 300 and quality["dee"]["gold"] == 0


def test_gold_decides_the_weight_where_the_careless_are_the_many():
    """Two careless annotators and one careful one on every record: the consensus of the others
    is noise, so the careful one's weight comes from the gold records; the weighted vote follows
    them where the majority follows the coin flips."""
    people = {"ann": 0.95, "dee": 0.5, "eve": 0.5}
    truth, latest = _scripted(400, people, seed=3)
    gold = {r: t for i, (r, t) in enumerate(sorted(truth.items())) if i % 5 == 0}  # a 20 % share
    quality = annotator_quality(latest, "label", gold)
    assert quality["ann"]["gold"] == len(gold) and quality["ann"]["gold_accuracy"] > 0.9
    assert (
        quality["ann"]["vote_weight"]
        > 2
        > 0.5
        > max(quality[w]["vote_weight"] for w in ("dee", "eve"))
    )
    weights = {who: q["vote_weight"] for who, q in quality.items()}
    majority, _ = resolve(latest, "majority", None)
    weighted, conflicts = resolve(latest, "weighted", None, weights)
    assert _accuracy(majority, truth) < 0.85
    assert _accuracy(weighted, truth) > 0.9 and not conflicts
    assert _accuracy(weighted, truth) - _accuracy(majority, truth) > 0.1


def test_the_weighted_vote_on_small_cases():
    latest = _rows(
        {
            "alone": {"ann": "match"},
            "two_to_one": {"ann": "match", "bea": "non_match", "dee": "non_match"},
            "tie": {"ann": "match", "bea": "non_match"},
            "unweighted": {"x": "match", "y": "match", "z": "non_match"},
        }
    )
    weights = {"ann": 3.0, "bea": 1.0, "dee": 1.0, "x": 0.0, "y": 0.0, "z": 0.0}
    resolved, conflicts = resolve(latest, "weighted", None, weights)
    got = {r: v for r, v in resolved.select("record_id", "value").iter_rows()}
    assert got == {
        "alone": '"match"',
        "two_to_one": '"match"',
        "tie": '"match"',
        "unweighted": '"match"',
    }
    assert not conflicts
    resolved, conflicts = resolve(latest, "weighted", None, {"ann": 1.0, "bea": 1.0, "dee": 1.0})
    assert [c["record_id"] for c in conflicts] == ["tie"]  # equal weights, two answers
    got = dict(resolved.select("record_id", "value").iter_rows())
    assert got["two_to_one"] == '"non_match"'  # equal weights: the plain majority


@pytest.mark.parametrize(
    ("agree", "n", "right", "gold", "expected"),
    [
        (0, 0, 0, 0, 0.0),  # nothing known: p = 1/2, chance for two answers
        (98, 100, 0, 0, math.log(99 / 3)),  # p = 99/102
        (10, 100, 19, 20, math.log(20 / 2)),  # 20 gold: p = 20/22 from the gold
        (90, 100, 2, 4, math.log(91 / 11)),  # 4 gold (< MIN_GOLD): from the others
        (30, 100, 0, 0, 0.0),  # below chance: no weight, never negative
    ],
)
def test_vote_weight_is_the_log_odds_of_a_smoothed_accuracy(agree, n, right, gold, expected):
    assert vote_weight(agree, n, right, gold, 2) == pytest.approx(expected, abs=1e-4)
    if expected:
        assert vote_weight(agree, n, right, gold, 3) == pytest.approx(
            expected + math.log(2), abs=1e-4
        )


def test_seconds_per_record_is_the_median_gap_between_answers_without_the_breaks():
    from datetime import datetime, timedelta

    import polars as pl

    rows = _rows({f"r{i:02d}": {"ann": "match", "bob": "match", "cy": "match"} for i in range(9)})
    start = datetime(2026, 11, 28, 10, 0)
    times = []
    for record, who in rows.select("record_id", "username").iter_rows():
        i = int(record[1:])
        if who == "ann":
            times.append(start + timedelta(seconds=30 * i))
        elif who == "bob":  # 90 s a record, and two hours' lunch after the fifth
            times.append(start + timedelta(seconds=90 * i + (7200 if i >= 5 else 0)))
        else:
            times.append(None if i else start)  # one answer with a time: no pace to tell
    stamped = rows.with_columns(
        answered_at=pl.Series([t.isoformat() + "+00:00" if t else None for t in times])
    )
    quality = annotator_quality(stamped, "label")
    assert quality["ann"]["seconds_per_record"] == 30
    assert quality["bob"]["seconds_per_record"] == 90  # the break is not a record's time
    assert quality["cy"]["seconds_per_record"] is None
