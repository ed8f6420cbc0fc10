"""Near-duplicate clusters of record inputs: exact groups first, then MinHash-LSH + rapidfuzz.

1. Normalize (Unicode NFKC, case, punctuation, spacing); identical texts form exact groups, and
   only the distinct texts go on.
2. Tokens: the distinct words of each text, less those in more than `max_df` of the texts (a
   templated prompt's own words say nothing about which records are alike).
3. MinHash signatures (rensa, native) and LSH banding give candidate pairs.
4. Each candidate pair is scored with rapidfuzz (token_sort_ratio, so reordered fields still
   match); pairs at or over `cutoff` are linked, and linked texts form clusters
   (connected components).

With the daft engine, steps 2-4 run in partitions (the word counts are summed over all of
them first); the candidates and the components are found here. The clusters are the same.
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
import polars_hash as plh

from curate.balance.settings import ClusterSettings
from curate.core.engine import Engine
from curate.core.text import match_key

DEFAULT_SETTINGS = ClusterSettings()

# 16 bands of 3 minima: a pair of Jaccard 0.6 becomes a candidate with p = 0.98, one of
# Jaccard 0.8 with p = 1 - 1e-8, one of Jaccard 0.05 with p = 0.002.
BANDS, ROWS = 16, 3
NUM_PERM = BANDS * ROWS
_MIX = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)
MIN_COMMON = 50
MAX_BUCKET = 200  # larger LSH buckets are texts that share only boilerplate: not compared
SEED = 20261128


def _words(part: pl.DataFrame) -> pl.DataFrame:
    """(i, h): the distinct words of each text of `part` (its i-th row), hashed."""
    return (
        part.select(pl.col("text").str.split(" ").list.unique().alias("word"))
        .with_row_index("i")
        .explode("word")
        .select("i", plh.col("word").nchash.xxh3_64().alias("h"))
    )


def _word_counts(part: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """In how many of the part's texts each word is."""
    return {"counts": _words(part).group_by("h").len()}


def _band_keys(
    part: pl.DataFrame, common: pl.DataFrame, words: pl.DataFrame | None = None
) -> dict[str, pl.DataFrame]:
    """Per text (`row`): whether it has words left once the template words (`common`) are
    dropped, and the 64-bit bucket key of each LSH band of its MinHash signature."""
    if words is None:
        words = _words(part)
    tokens = words.join(common, on="h", how="anti", maintain_order="left")
    counts = np.bincount(tokens["i"].to_numpy(), minlength=part.height)
    offsets = np.zeros(part.height + 1, dtype=np.uint64)
    np.cumsum(counts, out=offsets[1:])
    signatures = _signatures(tokens["h"].to_numpy().astype(np.uint64), offsets)
    keys = {
        # a band's minima mixed into one 64-bit bucket key
        f"b{band}": (
            signatures[:, band * ROWS : (band + 1) * ROWS].astype(np.uint64) * _MIX[:ROWS]
        ).sum(axis=1, dtype=np.uint64)
        for band in range(BANDS)
    }
    return {"bands": pl.DataFrame({"row": part["row"], "has_tokens": counts > 0, **keys})}


def _signatures(hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    import rensa

    if len(offsets) <= 1:
        return np.empty((0, NUM_PERM), dtype=np.uint32)
    matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, NUM_PERM, SEED)
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(-1, NUM_PERM)


def _bands(texts: pl.Series, max_df: float, engine: Engine) -> pl.DataFrame:
    """Band keys of every text (see _band_keys), in the texts' order. Words in more than
    max_df of the texts (and more than MIN_COMMON: fewer is a near-duplicate group, not a
    template) are template: counted over all texts, then dropped from each."""
    frame = pl.DataFrame({"text": texts}).with_row_index("row")
    limit = max(MIN_COMMON, max_df * max(texts.len(), 1))
    if not engine.distributed:  # one pass over the words
        words = _words(frame)
        common = words.group_by("h").len().filter(pl.col("len") > limit).select("h")
        return _band_keys(frame, common, words)["bands"]
    counts = pl.concat(engine.map_frame(frame, _word_counts, key="row")["counts"])
    common = counts.group_by("h").agg(pl.col("len").sum()).filter(pl.col("len") > limit).select("h")
    keyed = engine.map_frame(frame, functools.partial(_band_keys, common=common), key="row")
    return pl.concat(keyed["bands"]).sort("row")


def _candidates(bands: pl.DataFrame, stats: dict[str, int] | None = None) -> np.ndarray:
    """(i, j) pairs, i < j, of rows that share a band's bucket.

    Buckets over MAX_BUCKET are not compared; `stats`, when given, counts them and the pairs
    they hold (`buckets_skipped`, `largest_skipped`, `pairs_not_compared`).
    """
    found = []
    with_tokens = bands.filter(pl.col("has_tokens"))
    for band in range(BANDS):
        keyed = with_tokens.select(pl.col(f"b{band}").alias("k"), pl.col("row").alias("i"))
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
    return pl.concat(found).unique().sort("a", "b").to_numpy().astype(np.int64)


def _scored(part: pl.DataFrame, cutoff: float) -> dict[str, pl.DataFrame]:
    """The pairs of `part` whose texts score at or over `cutoff` (rapidfuzz, all cores)."""
    from rapidfuzz import fuzz, process

    scores = process.cpdist(
        part["left"].to_list(), part["right"].to_list(), scorer=fuzz.token_sort_ratio, workers=-1
    )
    keep = pl.Series(np.asarray(scores) >= cutoff)
    return {"edges": part.filter(keep).select("a", "b")}


def link_texts(
    texts: pl.Series,
    settings: ClusterSettings = DEFAULT_SETTINGS,
    stats: dict[str, int] | None = None,
    engine: Engine | None = None,
) -> np.ndarray:
    """The pairs (i, j) of distinct normalized texts that score >= cutoff; the graph's edges.

    `stats`, when given, gets what LSH left uncompared (see _candidates). With the daft
    engine, the signatures and the scoring run in partitions; the edges are the same."""
    engine = engine or Engine()
    if texts.len() < 2:
        return np.empty((0, 2), dtype=np.int64)
    candidates = _candidates(_bands(texts, settings.max_df, engine), stats)
    if len(candidates) == 0:
        return candidates
    pairs = pl.DataFrame(
        {
            "a": candidates[:, 0],
            "b": candidates[:, 1],
            "left": texts.gather(candidates[:, 0]),
            "right": texts.gather(candidates[:, 1]),
        }
    )
    edges = engine.map_frame(pairs, functools.partial(_scored, cutoff=settings.cutoff), key="a")
    found = pl.concat(edges.get("edges", [pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64})]))
    return found.sort("a", "b").to_numpy().astype(np.int64).reshape(-1, 2)


def cluster_texts(
    texts: pl.Series,
    settings: ClusterSettings = DEFAULT_SETTINGS,
    stats: dict[str, int] | None = None,
    engine: Engine | None = None,
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
    edges = link_texts(distinct, settings, stats, engine)
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
