"""Agreement between annotators and resolution of their answers: pure functions over a frame of
answers (the `annotations` table)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import polars as pl

from curate.core.tables import RESOLVED_SCHEMA

POLICIES = ("majority", "unanimous", "prefer-user", "weighted")
# gold records an annotator needs before their weight comes from the gold, not the others
MIN_GOLD = 5
# the datasets conflicts go to (curate-TASK-adjudication): an answer given there decides
ADJUDICATION = "-adjudication"


def latest_answers(annotations: pl.DataFrame) -> pl.DataFrame:
    """Each user's latest answer per record and question (history stays in the table)."""
    return (
        annotations.sort("answered_at", "pulled_at")
        .group_by("record_id", "user_id", "question", maintain_order=True)
        .last()
    )


def agreement(latest: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Per question, agreement between the people who answered it, by user (not by the order
    they answered in).

    - `pairs`: for every pair of annotators, over the records both answered: how many, the share
      they agree on, and Cohen's kappa.
    - `krippendorff_alpha` (nominal) over every record answered by 2+ people, a missing answer
      being a missing value, as Krippendorff defines it; `fleiss_kappa` over the records answered
      by the most common number of people (Fleiss' kappa needs the same number per record).
    - `kappa` / `kappa_kind`: the headline: Cohen's with two annotators in all, else alpha.
    """
    out = {}
    submitted = latest.filter(pl.col("status") == "submitted")
    for question in sorted(set(submitted["question"])):
        answers = submitted.filter(pl.col("question") == question).select(
            "record_id", pl.coalesce("username", "user_id").alias("who"), "value"
        )
        wide = answers.pivot(on="who", index="record_id", values="value", aggregate_function="last")
        people = sorted(c for c in wide.columns if c != "record_id")
        counts = wide.select(pl.sum_horizontal(pl.col(people).is_not_null()).alias("n"))["n"]
        shared = wide.filter(counts >= 2)
        summary: dict[str, Any] = {
            "records": shared.height,
            "annotators": len(people),
            "percent_agreement": None,
            "pairs": [],
            "krippendorff_alpha": None,
            "fleiss_kappa": None,
            "kappa": None,
            "kappa_kind": None,
        }
        if shared.height:
            values = shared.select(people).rows()
            agreeing = sum(1 for row in values if len({v for v in row if v is not None}) == 1)
            summary["percent_agreement"] = round(agreeing / shared.height, 4)
            summary["pairs"] = _pairwise(shared, people)
            summary["krippendorff_alpha"] = _alpha(values)
            summary["fleiss_kappa"] = _fleiss(values)
            if len(people) == 2:
                summary["kappa"], summary["kappa_kind"] = summary["pairs"][0]["kappa"], "cohen"
            else:
                summary["kappa"] = summary["krippendorff_alpha"]
                summary["kappa_kind"] = "krippendorff_alpha"
        out[question] = summary
    return out


def _weighted(answers: list[tuple[str | None, str]], weights: dict[str, float]) -> str | None:
    """The answer with the most vote weight; None on a tie."""
    if len(answers) == 1:
        return answers[0][1]
    score: Counter[str] = Counter()
    for user, value in answers:
        score[value] += weights.get(user or "?", 0.0)
    if not any(score.values()):  # no vote carries weight: the plain majority
        counts = Counter(value for _, value in answers)
        top, n = counts.most_common(1)[0]
        return top if n > len(answers) / 2 else None
    (top, best), *rest = score.most_common()
    return top if not rest or best > rest[0][1] else None


def _rounded(value: float) -> float | None:
    return None if value != value else round(float(value), 4)  # NaN: undefined (one category)


def cohen_kappa(left: list[str], right: list[str]) -> float | None:
    """Cohen's kappa of two annotators' answers to the same records."""
    return kappa_with_interval(left, right)[0]


def kappa_with_interval(
    left: list[str], right: list[str]
) -> tuple[float | None, list[float] | None]:
    """Cohen's kappa of two raters' answers to the same records, and its 95% interval; (None,
    None) when every answer is one category (agreement by chance is then total)."""
    import numpy as np
    from statsmodels.stats.inter_rater import cohens_kappa

    categories = sorted(set(left) | set(right))
    if len(categories) < 2:
        return None, None
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((len(categories), len(categories)))
    for a, b in zip(left, right, strict=True):
        table[index[a], index[b]] += 1
    result = cohens_kappa(table)
    low, high = _rounded(result.kappa_low), _rounded(result.kappa_upp)
    return _rounded(result.kappa), None if low is None or high is None else [low, high]


def _pairwise(shared: pl.DataFrame, people: list[str]) -> list[dict[str, Any]]:
    pairs = []
    for i, a in enumerate(people):
        for b in people[i + 1 :]:
            both = shared.select(a, b).drop_nulls()
            if both.height == 0:
                continue
            left, right = both[a].to_list(), both[b].to_list()
            pairs.append(
                {
                    "annotators": [a, b],
                    "records": both.height,
                    "percent_agreement": round(
                        sum(x == y for x, y in zip(left, right, strict=True)) / both.height, 4
                    ),
                    "kappa": cohen_kappa(left, right),
                }
            )
    return pairs


def _alpha(rows: list[tuple[str | None, ...]]) -> float | None:
    """Krippendorff's alpha (nominal) of records x annotators, None for a missing answer."""
    import krippendorff
    import numpy as np

    categories = sorted({v for row in rows for v in row if v is not None})
    if len(categories) < 2:
        return None
    index = {c: float(i) for i, c in enumerate(categories)}
    data = np.array([[np.nan if v is None else index[v] for v in row] for row in rows]).T
    return _rounded(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _fleiss(rows: list[tuple[str | None, ...]]) -> dict[str, Any] | None:
    """Fleiss' kappa over the records answered by the most common number of people."""
    from statsmodels.stats.inter_rater import fleiss_kappa

    sizes = Counter(sum(v is not None for v in row) for row in rows)
    raters = sizes.most_common(1)[0][0]
    used = [[v for v in row if v is not None] for row in rows]
    used = [row for row in used if len(row) == raters]
    categories = sorted({v for row in used for v in row})
    if len(categories) < 2:
        return None
    table = [[row.count(c) for c in categories] for row in used]
    return {"kappa": _rounded(fleiss_kappa(table)), "records": len(used), "raters": raters}


def annotator_quality(
    latest: pl.DataFrame, question: str, gold: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    """Per annotator, on one question: how many answers; agreement with the consensus of the
    others (on each record the others answered, the answer most of them gave, where most did
    agree) as a share and as Cohen's kappa with its 95% interval; accuracy on the gold records
    (`gold`: record_id -> the trusted answer, decoded) they answered; the seconds they spend on
    a record (an estimate, `_pace`); and the weight of their vote under `--policy weighted`
    (`vote_weight`)."""
    submitted = latest.filter((pl.col("status") == "submitted") & (pl.col("question") == question))
    answers = submitted.select(
        "record_id", pl.coalesce("username", "user_id").alias("who"), "value"
    )
    if answers.height == 0:
        return {}
    seconds_per_record = _pace(submitted)
    wide = answers.pivot(on="who", index="record_id", values="value", aggregate_function="last")
    people = sorted(c for c in wide.columns if c != "record_id")
    categories = max(answers["value"].n_unique(), 2)
    out: dict[str, dict[str, Any]] = {}
    rows = wide.select("record_id", *people).rows()
    for i, who in enumerate(people, start=1):
        mine, consensus, right, on_gold = [], [], 0, 0
        for row in rows:
            value = row[i]
            if value is None:
                continue
            others = Counter(v for j, v in enumerate(row[1:], start=1) if j != i and v)
            top = others.most_common(2)
            if top and (len(top) == 1 or top[0][1] > top[1][1]):
                mine.append(value)
                consensus.append(top[0][0])
            if gold is not None and row[0] in gold:
                on_gold += 1
                right += json.loads(value) == gold[row[0]]
        agree = sum(a == b for a, b in zip(mine, consensus, strict=True))
        kappa, interval = kappa_with_interval(mine, consensus) if len(mine) >= 2 else (None, None)
        out[who] = {
            "answers": int(answers.filter(pl.col("who") == who).height),
            "seconds_per_record": seconds_per_record.get(who),
            "with_others": len(mine),
            "agreement": round(agree / len(mine), 4) if mine else None,
            "kappa": kappa,
            "kappa_interval": interval,
            "gold": on_gold,
            "gold_accuracy": round(right / on_gold, 4) if on_gold else None,
            "vote_weight": vote_weight(agree, len(mine), right, on_gold, categories),
        }
    return out


BREAK_S = 600  # a longer gap between two answers is a pause, not time spent on a record


def _pace(submitted: pl.DataFrame) -> dict[str, float]:
    """Per annotator, the median time between two consecutive answers, gaps over BREAK_S left
    out: an estimate of the seconds spent on a record (Argilla keeps when an answer was last
    saved, not how long it took). Only where two answers at least have their time."""
    if "answered_at" not in submitted.columns:
        return {}
    gaps = (
        submitted.select(pl.coalesce("username", "user_id").alias("who"), "answered_at")
        .drop_nulls()
        .with_columns(
            pl.col("answered_at").cast(pl.String).str.to_datetime(strict=False, time_zone="UTC")
        )
        .drop_nulls()
        .sort("who", "answered_at")
        .with_columns(gap=pl.col("answered_at").diff().over("who").dt.total_milliseconds() / 1000)
        .filter(pl.col("gap").is_between(0, BREAK_S, closed="right"))
        .group_by("who")
        .agg(pl.col("gap").median())
    )
    return {who: round(gap, 1) for who, gap in gaps.iter_rows()}


def vote_weight(agree: int, n: int, right: int, on_gold: int, categories: int) -> float:
    """The weight of an annotator's vote: log(p (k - 1) / (1 - p)), the weight an annotator who
    is right with probability p and wrong evenly over the k - 1 other answers has in the
    optimal weighted majority (Nitzan and Paroush, 1982). p is their accuracy on the gold
    records where they answered MIN_GOLD of them, else their agreement with the others'
    consensus, both smoothed by one success and one failure (Laplace); at or below chance the
    weight is 0: such a vote carries no information."""
    import math

    hits, trials = (right, on_gold) if on_gold >= MIN_GOLD else (agree, n)
    p = (hits + 1) / (trials + 2)
    return round(max(0.0, math.log(p * (categories - 1) / (1 - p))), 4)


def resolve(
    latest: pl.DataFrame,
    policy: str,
    prefer_user: str | None,
    weights: dict[str, float] | None = None,
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """One answer per record and question by the policy; the records it could not decide. An
    answer given in an adjudication dataset (ADJUDICATION) decides, whatever the policy.
    `weighted` takes the answer with the most vote weight (`weights`: annotator -> weight,
    annotator_quality's `vote_weight`, for every question; a lone answer is taken as it is,
    and where every vote weighs 0 the majority decides)."""
    resolved, conflicts = [], []
    submitted = latest.filter(pl.col("status") == "submitted")
    discarded = set(latest.filter(pl.col("status") == "discarded")["record_id"])
    groups: dict[tuple[str, str], list[tuple[str | None, str]]] = defaultdict(list)
    adjudicated: dict[tuple[str, str], str] = {}
    for record_id, question, value, username, dataset in (
        submitted.sort("answered_at")
        .select("record_id", "question", "value", "username", "dataset")
        .iter_rows()
    ):
        groups[(record_id, question)].append((username, value))
        if (dataset or "").endswith(ADJUDICATION):
            adjudicated[(record_id, question)] = value  # the latest adjudication
    for (record_id, question), answers in sorted(groups.items()):
        counts = Counter(value for _, value in answers)
        top, n = counts.most_common(1)[0]
        decided: str | None = None
        if (record_id, question) in adjudicated:  # whatever the policy: the adjudicator's
            decided = adjudicated[(record_id, question)]
        elif policy == "unanimous":
            decided = top if len(counts) == 1 else None
        elif policy == "majority":
            decided = top if n > len(answers) / 2 else None
        elif policy == "weighted":
            decided = _weighted(answers, weights or {})
        else:
            preferred = [value for user, value in answers if user == prefer_user]
            decided = preferred[0] if preferred else (top if n > len(answers) / 2 else None)
        if decided is None:
            conflicts.append(
                {
                    "record_id": record_id,
                    "question": question,
                    "answers": {user or "?": json.loads(value) for user, value in answers},
                }
            )
            continue
        resolved.append(
            {
                "record_id": record_id,
                "question": question,
                "value": decided,
                "annotators": sorted(user or "?" for user, _ in answers),
                "policy": policy,
            }
        )
    columns = {k: v for k, v in RESOLVED_SCHEMA.items() if k != "discarded_by_someone"}
    frame = pl.DataFrame(resolved, schema=columns)
    frame = frame.with_columns(
        pl.col("record_id").is_in(list(discarded)).alias("discarded_by_someone")
    )
    return frame, conflicts
