"""Near-duplicate clusters of record inputs: exact groups first, then MinHash-LSH + rapidfuzz.

1. Normalize (Unicode NFKC, case, punctuation, spacing); identical texts form exact groups, and
   only the distinct texts go on.
2. Tokens: the distinct words of each text, less those in more than `max_df` of the texts (a
   templated prompt's own words say nothing about which records are alike).
3. MinHash signatures (rensa, native) and LSH banding give candidate pairs.
4. Each candidate pair is scored with rapidfuzz (token_sort_ratio, so reordered fields still
   match); pairs at or over `cutoff` are linked, and linked texts form clusters
   (connected components).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import polars_hash as plh

from curate.text import match_key

# 16 bands of 3 minima: a pair of Jaccard 0.6 becomes a candidate with p = 0.98, one of
# Jaccard 0.8 with p = 1 - 1e-8, one of Jaccard 0.05 with p = 0.002.
BANDS, ROWS = 16, 3
NUM_PERM = BANDS * ROWS
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
MIN_COMMON = 50
MAX_BUCKET = 200  # larger LSH buckets are texts that share only boilerplate: not compared
SEED = 20261128


@dataclass(frozen=True)
class ClusterSettings:
    cutoff: float = 90.0  # rapidfuzz token_sort_ratio, 0-100
    max_df: float = 0.01  # words in more of the distinct texts than this are template


def _tokens(texts: pl.Series, max_df: float) -> tuple[np.ndarray, np.ndarray]:
    """(flat token hashes, row offsets) of the distinct words of each text, template words
    (in more than max_df of the texts) dropped. Words, not their order: reordered fields
    still look alike."""
    tokens = (
        pl.DataFrame({"text": texts})
        .with_row_index("row")
        .select("row", pl.col("text").str.split(" ").list.unique().alias("word"))
        .explode("word")
        .select("row", plh.col("word").nchash.xxh3_64().alias("h"))
    )
    n = max(texts.len(), 1)
    # a word in more than MIN_COMMON texts can be template; fewer is a near-duplicate group
    limit = max(MIN_COMMON, max_df * n)
    common = tokens.group_by("h").len().filter(pl.col("len") > limit).select("h")
    tokens = tokens.join(common, on="h", how="anti", maintain_order="left")
    counts = np.bincount(tokens["row"].to_numpy(), minlength=texts.len())
    offsets = np.zeros(texts.len() + 1, dtype=np.uint64)
    np.cumsum(counts, out=offsets[1:])
    return tokens["h"].to_numpy().astype(np.uint64), offsets


def _signatures(hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    import rensa

    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, NUM_PERM, SEED)
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(-1, NUM_PERM)


def _candidates(
    signatures: np.ndarray, has_tokens: np.ndarray, stats: dict[str, int] | None = None
) -> np.ndarray:
    """(i, j) pairs, i < j, of rows that share a band of their signatures.

    Buckets over MAX_BUCKET are not compared; `stats`, when given, counts them and the pairs
    they hold (`buckets_skipped`, `largest_skipped`, `pairs_not_compared`).
    """
    found = []
    ids = np.flatnonzero(has_tokens)
    for band in range(BANDS):
        # a band's minima mixed into one 64-bit bucket key
        part = signatures[ids, band * ROWS : (band + 1) * ROWS].astype(np.uint64)
        key = (part * _MIX[:ROWS]).sum(axis=1, dtype=np.uint64)
        keyed = pl.DataFrame({"k": key, "i": ids})
        grouped = keyed.group_by("k").agg(pl.col("i"))
        if stats is not None:
            sizes = grouped["i"].list.len()
            big = sizes.filter(sizes > MAX_BUCKET)
            stats["buckets_skipped"] = stats.get("buckets_skipped", 0) + big.len()
            stats["largest_skipped"] = max(stats.get("largest_skipped", 0), int(big.max() or 0))
            pairs_in = int((big.cast(pl.Int64) * (big.cast(pl.Int64) - 1) // 2).sum())
            stats["pairs_not_compared"] = stats.get("pairs_not_compared", 0) + pairs_in
        buckets = grouped.filter(
            (pl.col("i").list.len() > 1) & (pl.col("i").list.len() <= MAX_BUCKET)
        )
        if buckets.height == 0:
            continue
        pairs = (
            buckets.select(pl.col("i").alias("a"), pl.col("i").alias("b"))
            .explode("a")
            .explode("b")
            .filter(pl.col("a") < pl.col("b"))
        )
        found.append(pairs)
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    return pl.concat(found).unique().sort("a", "b").to_numpy()


def link_texts(
    texts: pl.Series,
    settings: ClusterSettings = ClusterSettings(),
    stats: dict[str, int] | None = None,
) -> np.ndarray:
    """The pairs (i, j) of distinct normalized texts that score >= cutoff; the graph's edges.

    `stats`, when given, gets what LSH left uncompared (see _candidates)."""
    from rapidfuzz import fuzz, process

    if texts.len() < 2:
        return np.empty((0, 2), dtype=np.int64)
    hashes, offsets = _tokens(texts, settings.max_df)
    has_tokens = np.diff(offsets) > 0
    candidates = _candidates(_signatures(hashes, offsets), has_tokens, stats)
    if len(candidates) == 0:
        return candidates
    values = texts.to_list()
    left = [values[i] for i in candidates[:, 0]]
    right = [values[j] for j in candidates[:, 1]]
    scores = process.cpdist(left, right, scorer=fuzz.token_sort_ratio, workers=-1)
    return candidates[np.asarray(scores) >= settings.cutoff]


def cluster_texts(
    texts: pl.Series,
    settings: ClusterSettings = ClusterSettings(),
    stats: dict[str, int] | None = None,
) -> pl.DataFrame:
    """For each input text (None allowed): `group` (its cluster, an int) and `n_linked`.

    Identical normalized texts share a cluster; near-duplicates are linked as the module says.
    A text with no input (None, or nothing left after normalizing) gets a cluster of its own:
    records without input text are never near-duplicates of each other.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    # an empty text is no evidence of likeness: it is treated as no input at all
    normalized = (
        pl.DataFrame({"t": texts})
        .select(match_key(pl.col("t")))
        .select(pl.when(pl.col("t") != "").then(pl.col("t")).alias("t"))
    )["t"]
    distinct = normalized.drop_nulls().unique(maintain_order=True)
    edges = link_texts(distinct, settings, stats)
    n = distinct.len()
    graph = coo_matrix(
        (np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1]))
        if len(edges)
        else ([], ([], [])),
        shape=(n, n),
    )
    _, component = connected_components(graph, directed=False)
    lookup = pl.DataFrame({"t": distinct, "component": component.astype(np.int64)})
    frame = pl.DataFrame({"t": normalized}).with_row_index("row")
    joined = frame.join(lookup, on="t", how="left", maintain_order="left")
    # rows without input: clusters of their own, numbered after the linked ones
    missing = joined["component"].is_null()
    fresh = pl.int_range(n, n + missing.sum(), eager=True, dtype=pl.Int64)
    group = joined["component"].scatter(missing.arg_true(), fresh)
    return pl.DataFrame({"group": group})
