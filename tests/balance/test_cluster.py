from __future__ import annotations

import polars as pl

from curate.balance.cluster import ClusterSettings, cluster_texts

BASE = [
    ("customer", "Maria Garcia4411"),
    ("order", "58213377"),
    ("city", "Porto"),
    ("message", "the parcel arrived damaged and the box was open, kalum rostix zedor"),
]


def render(parts):
    return "Classify this ticket.\n" + "\n".join(f"{k}: {v}" for k, v in parts)


def _filler(i: int) -> str:
    # unrelated inputs in the same template, so that template words are common
    return render(
        [
            ("customer", f"Person{i} Name{i * 7}"),
            ("order", str(10_000_000 + i * 7919)),
            ("city", "Leeds"),
            ("message", f"unrelated words w{i}a w{i}b w{i}c w{i}d"),
        ]
    )


def test_planted_near_duplicates_cluster_and_the_rest_stay_apart():
    typo = [
        *BASE[:3],
        ("message", "the parcel arrived damagde and the box was open, kalum rostix zedor"),
    ]
    reordered = [BASE[2], BASE[0], BASE[3], BASE[1]]
    number = [BASE[0], ("order", "58213378"), *BASE[2:]]
    texts = [render(BASE), render(typo), render(reordered), render(number), render(BASE).upper()]
    texts += [_filler(i) for i in range(300)] + [None]
    groups = cluster_texts(pl.Series(texts))["group"].to_list()
    assert len(set(groups[:5])) == 1, "every planted variant joins the base"
    assert len(set(groups[5:])) == 301, "unrelated inputs (and a missing one) stay apart"


def test_cutoff_decides():
    a = render(BASE)
    b = render(
        [
            *BASE[:3],
            ("message", "the parcel arrived late and the box was missing, kalum rostix zedor"),
        ]
    )
    texts = [a, b] + [_filler(i) for i in range(100)]
    loose = cluster_texts(pl.Series(texts), ClusterSettings(cutoff=80))["group"].to_list()
    strict = cluster_texts(pl.Series(texts), ClusterSettings(cutoff=99))["group"].to_list()
    assert loose[0] == loose[1] and strict[0] != strict[1]
