"""Benchmark: near-duplicate clustering of 1M templated inputs, and its recall and precision.

    python bench/cluster.py [--inputs 1000000] [--sample 10000]

Generates templated inputs (a support-desk prompt filled with a customer, an order number, a
date, a city and a complaint) where some are planted near-duplicates of others: a typo, the
fields in another order, a changed number. Then, in this one process:
  - times curate.balance.cluster.cluster_texts over all inputs (target: under 60 s on 2 cores);
  - takes a sample of `--sample` inputs (whole planted groups, so that it holds pairs) and
    compares the clusters of that timed run (the same configuration: template words judged
    over all inputs) with an exhaustive rapidfuzz comparison of every pair of the sample at
    the same cutoff: recall and precision of the same-cluster pairs (targets: >= 0.95 each);
  - says what LSH left uncompared: buckets over MAX_BUCKET, and the pairs they held.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from curate.balance.cluster import MAX_BUCKET, ClusterSettings, cluster_texts
from curate.core.text import match_key

FIRST = ["Robert", "Maria", "Chen", "Aisha", "Olu", "Sven", "Priya", "Lucas", "Fatima", "Jonas"]
LAST = ["Smith", "Garcia", "Wang", "Khan", "Adeyemi", "Larsen", "Patel", "Silva", "Haddad", "Berg"]
CITIES = ["Leeds", "Porto", "Osaka", "Lagos", "Oslo", "Pune", "Lyon", "Cork", "Graz", "Tartu"]
ISSUES = [
    "the parcel arrived damaged and the box was open",
    "I was charged twice for the same order",
    "the app crashes when I open my order history",
    "the delivery is two weeks late and tracking has not moved",
    "I want to change the delivery address before it ships",
    "the discount code was not applied at checkout",
]


# a vocabulary with the long tail real text has: 6,000 made-up words
WORDS = [
    a + b + c
    for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "tu", "vo", "ze", "bra", "dro")
    for b in (
        "bel",
        "dor",
        "fin",
        "gas",
        "hum",
        "jix",
        "kel",
        "lum",
        "mor",
        "nix",
        "pol",
        "quar",
        "rost",
        "sel",
        "tam",
        "ulv",
        "vex",
        "wir",
        "yak",
        "zon",
        "cre",
        "dil",
        "fen",
        "gor",
        "hal",
    )
    for c in (
        "",
        "a",
        "en",
        "is",
        "o",
        "um",
        "et",
        "ar",
        "on",
        "ix",
        "y",
        "al",
        "es",
        "ot",
        "ur",
        "ig",
        "ab",
        "ed",
        "ol",
        "ut",
    )
]


def fields(rng: random.Random) -> list[tuple[str, str]]:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(8, 16)))
    return [
        ("customer", f"{rng.choice(FIRST)} {rng.choice(LAST)}{rng.randrange(10_000)}"),
        ("order", str(rng.randrange(10**7, 10**8))),
        ("date", f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"),
        ("city", rng.choice(CITIES)),
        ("message", f"{rng.choice(ISSUES)}: {words}"),
    ]


def render(parts: list[tuple[str, str]]) -> str:
    body = "\n".join(f"{k}: {v}" for k, v in parts)
    return f"Classify this support ticket.\n{body}\nAnswer with one topic."


def near_duplicate(rng: random.Random, parts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    parts = list(parts)
    kind = rng.choice(["typo", "reorder", "number"])
    if kind == "reorder":
        rng.shuffle(parts)
    elif kind == "number":
        parts[1] = ("order", parts[1][1][:-1] + str((int(parts[1][1][-1]) + 1) % 10))
    else:
        key, value = parts[4]
        i = rng.randrange(1, len(value) - 2)
        parts[4] = (key, value[:i] + value[i + 1] + value[i] + value[i + 2 :])
    return parts


def make_inputs(n: int, seed: int = 5) -> tuple[list[str], list[int]]:
    """n inputs and the planted group of each (a base and its near-duplicates share one)."""
    rng = random.Random(seed)
    texts, groups = [], []
    group = 0
    while len(texts) < n:
        base = fields(rng)
        texts.append(render(base))
        groups.append(group)
        if rng.random() < 0.3:
            for _ in range(rng.choice([1, 1, 2, 3])):
                if len(texts) < n:
                    texts.append(render(near_duplicate(rng, base)))
                    groups.append(group)
        group += 1
    return texts, groups


def pairs_of(labels: np.ndarray) -> set[tuple[int, int]]:
    out = set()
    frame = pl.DataFrame({"g": labels, "i": np.arange(len(labels))})
    for members in frame.group_by("g").agg("i")["i"].to_list():
        members.sort()
        out.update((a, b) for k, a in enumerate(members) for b in members[k + 1 :])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_000)
    args = parser.parse_args()
    settings = ClusterSettings()
    texts, groups = make_inputs(args.inputs)
    start = time.perf_counter()
    stats: dict[str, int] = {}
    clusters = cluster_texts(pl.Series(texts), settings, stats)["group"].to_numpy()
    seconds = time.perf_counter() - start
    print(
        f"clustered {len(texts):,} inputs in {seconds:.1f} s ({len(texts) / seconds:,.0f}/s); "
        f"{len(np.unique(clusters)):,} clusters  (target: under 60 s)"
    )
    print(
        f"LSH buckets over {MAX_BUCKET} members, not compared: {stats.get('buckets_skipped', 0):,} "
        f"(largest {stats.get('largest_skipped', 0):,}; {stats.get('pairs_not_compared', 0):,} "
        "candidate pairs, counted once per band)"
    )

    # the sample: whole planted groups, from the start of the data, up to --sample inputs
    take = np.flatnonzero(np.asarray(groups) < groups[min(args.sample, len(groups)) - 1])
    sample = [texts[i] for i in take]
    normalized = pl.DataFrame({"t": sample}).select(match_key(pl.col("t")))["t"].to_list()
    start = time.perf_counter()
    scores = process.cdist(
        normalized,
        normalized,
        scorer=fuzz.token_sort_ratio,
        score_cutoff=settings.cutoff,
        workers=-1,
        dtype=np.uint8,
    )
    exhaustive = {(int(a), int(b)) for a, b in zip(*np.nonzero(np.triu(scores, k=1)), strict=True)}
    print(
        f"exhaustive comparison of {len(sample):,} sampled inputs: {len(exhaustive):,} pairs "
        f"at token_sort_ratio >= {settings.cutoff:g} ({time.perf_counter() - start:.1f} s)"
    )

    same_cluster = pairs_of(clusters[take])
    hit = len(same_cluster & exhaustive)
    recall = hit / len(exhaustive) if exhaustive else 1.0
    precision = hit / len(same_cluster) if same_cluster else 1.0
    missed = exhaustive - same_cluster
    print(
        f"same-cluster pairs of the timed run, in the sample: recall {recall:.4f}  precision "
        f"{precision:.4f}  (targets >= 0.95); {len(missed):,} near-duplicate pairs missed"
    )


if __name__ == "__main__":
    main()
