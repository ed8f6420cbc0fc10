"""Edge-case tags for entity pairs: how the two records' names, dates and other fields differ.

For a pair_match task, `[tasks.NAME.pair]` says where the two records are (`left`, `right`:
`metadata.left` is the JSON field `left` of the record's metadata) and which of their fields are
names, dates and other fields. Each (record, field) gets one tag:

- names: exact, case_accent_spacing, nickname (from the `nicknames` package's curated list),
  initial, first_last_swapped, tokens_reordered, typo (Jaro-Winkler >= TYPO_JW), missing_one_side,
  missing_both, different;
- dates: exact, partial_date (year or year-month only on one side), day_month_swapped,
  digit_transposition, off_by_a_little (<= OFF_BY_DAYS days), missing_one_side, missing_both,
  different;
- other fields: exact, case_accent_spacing, missing_one_side, missing_both, different.

Each kind is a tagger (curate/balance/taggers.py's interface, registered under the entry point group
`curate.edge_cases` like the products, organizations and addresses taggers and any plugin's),
named by the key of the pair spec that lists its fields.
"""

from __future__ import annotations

from functools import cache
from typing import ClassVar

import polars as pl

from curate.balance.taggers import Tagger
from curate.core.errors import ConfigError
from curate.core.plugins import load_group
from curate.core.tables import NOT_HARD, TAGS_SCHEMA
from curate.core.text import name_key

TYPO_JW = 0.85
OFF_BY_DAYS = 31


def _side(path: str, field: str) -> pl.Expr:
    """A field of one side of the pair, as text: `metadata.left` + `dob` -> $.left.dob."""
    column, _, rest = path.partition(".")
    expr = pl.col(column)
    if rest:
        expr = expr.str.json_path_match(f"$.{rest}.{field}")
    else:
        expr = expr.str.json_path_match(f"$.{field}")
    return pl.when(expr.str.strip_chars().str.len_chars() > 0).then(expr.str.strip_chars())


@cache
def nickname_pairs() -> pl.DataFrame:
    """(a, b, _hit) for every name and nickname of the same person, both ways, folded.

    From the curated list of the `nicknames` package (name -> nickname, and translations).
    """
    from nicknames import name_triplets

    pairs = pl.DataFrame(
        [(t.name1, t.name2) for t in name_triplets()], schema=["a", "b"], orient="row"
    ).select(name_key(pl.col("a")).alias("a"), name_key(pl.col("b")).alias("b"))
    both = pl.concat([pairs, pairs.select(pl.col("b").alias("a"), pl.col("a").alias("b"))])
    return both.unique().with_columns(pl.lit(True).alias("_hit"))


def _missing(left: pl.Expr, right: pl.Expr) -> pl.Expr:
    return (
        pl.when(left.is_null() & right.is_null())
        .then(pl.lit("missing_both"))
        .when(left.is_null() | right.is_null())
        .then(pl.lit("missing_one_side"))
    )


def _name_tags(frame: pl.DataFrame, field: str, names: list[str]) -> pl.Series:
    from rapidfuzz import process
    from rapidfuzz.distance import JaroWinkler

    left, right = pl.col(f"l.{field}"), pl.col(f"r.{field}")
    fl, fr = name_key(left), name_key(right)
    similarity = process.cpdist(
        frame.select(fl.fill_null(""))[:, 0].to_list(),
        frame.select(fr.fill_null(""))[:, 0].to_list(),
        scorer=JaroWinkler.normalized_similarity,
        workers=-1,
    )
    frame = frame.with_columns(pl.Series("_jw", similarity), fl.alias("_fl"), fr.alias("_fr"))
    frame = frame.join(
        nickname_pairs(),
        left_on=["_fl", "_fr"],
        right_on=["a", "b"],
        how="left",
        maintain_order="left",
    ).with_columns(pl.col("_hit").fill_null(False))
    others = [n for n in names if n != field]
    swapped = pl.lit(False)
    for other in others:  # this field on one side is another name field on the other
        swapped = swapped | (
            (fl == name_key(pl.col(f"r.{other}")))
            & (fr == name_key(pl.col(f"l.{other}")))
            & (fl != fr)
        )
    fl_, fr_ = pl.col("_fl"), pl.col("_fr")
    initial = (
        (fl_.str.len_chars() == 1) & fr_.str.starts_with(fl_) & (fr_.str.len_chars() > 1)
    ) | ((fr_.str.len_chars() == 1) & fl_.str.starts_with(fr_) & (fl_.str.len_chars() > 1))
    reordered = (fl_.str.split(" ").list.sort() == fr_.str.split(" ").list.sort()) & (fl_ != fr_)
    tag = pl.coalesce(
        _missing(left, right),
        pl.when(left == right).then(pl.lit("exact")),
        pl.when(fl_ == fr_).then(pl.lit("case_accent_spacing")),
        pl.when(swapped).then(pl.lit("first_last_swapped")),
        pl.when(pl.col("_hit")).then(pl.lit("nickname")),
        pl.when(initial).then(pl.lit("initial")),
        pl.when(reordered).then(pl.lit("tokens_reordered")),
        pl.when(pl.col("_jw") >= TYPO_JW).then(pl.lit("typo")),
    ).fill_null(pl.lit("different"))
    return frame.select(tag.alias("tag"))["tag"]


def _date_tags(field: str) -> pl.Expr:
    left, right = pl.col(f"l.{field}"), pl.col(f"r.{field}")
    dl = left.str.to_date("%Y-%m-%d", strict=False)
    dr = right.str.to_date("%Y-%m-%d", strict=False)
    partial_l = left.str.contains(r"^\d{4}(-\d{2})?$")
    partial_r = right.str.contains(r"^\d{4}(-\d{2})?$")
    partial = (partial_l & right.str.starts_with(left)) | (partial_r & left.str.starts_with(right))
    swapped = (
        (dl.dt.year() == dr.dt.year())
        & (dl.dt.month() == dr.dt.day())
        & (dl.dt.day() == dr.dt.month())
        & (dl != dr)
    )
    digits_l = left.str.replace_all(r"\D", "")
    digits_r = right.str.replace_all(r"\D", "")
    # one adjacent pair of digits exchanged: same digits, two positions differ, side by side
    transposed = (
        (digits_l.str.len_chars() == digits_r.str.len_chars())
        & (digits_l != digits_r)
        & (digits_l.str.split("").list.sort() == digits_r.str.split("").list.sort())
        & _adjacent_swap(digits_l, digits_r)
    )
    off = ((dl - dr).dt.total_days().abs() <= OFF_BY_DAYS) & (dl != dr)
    return (
        pl.coalesce(
            _missing(left, right),
            pl.when(left == right).then(pl.lit("exact")),
            pl.when(
                partial
                | (
                    partial_l
                    & partial_r
                    & (left != right)
                    & (left.str.slice(0, 4) == right.str.slice(0, 4))
                )
            ).then(pl.lit("partial_date")),
            pl.when(swapped).then(pl.lit("day_month_swapped")),
            pl.when(transposed).then(pl.lit("digit_transposition")),
            pl.when(off).then(pl.lit("off_by_a_little")),
        )
        .fill_null(pl.lit("different"))
        .alias("tag")
    )


def _adjacent_swap(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """True where b is a with one pair of neighbouring characters exchanged (same length)."""
    checks = []
    for i in range(9):  # dates have at most 8 digits
        swapped = a.str.slice(0, i) + a.str.slice(i + 1, 1) + a.str.slice(i, 1) + a.str.slice(i + 2)
        checks.append((a.str.len_chars() > i + 1) & (swapped == b))
    return pl.any_horizontal(checks).fill_null(False)


def _other_tags(field: str) -> pl.Expr:
    left, right = pl.col(f"l.{field}"), pl.col(f"r.{field}")
    return (
        pl.coalesce(
            _missing(left, right),
            pl.when(left == right).then(pl.lit("exact")),
            pl.when(name_key(left) == name_key(right)).then(pl.lit("case_accent_spacing")),
        )
        .fill_null(pl.lit("different"))
        .alias("tag")
    )


class Names(Tagger):
    name: ClassVar[str] = "names"
    tags: ClassVar[tuple[str, ...]] = (
        "nickname",
        "first_last_swapped",
        "initial",
        "tokens_reordered",
        "typo",
        "case_accent_spacing",
        "missing_one_side",
        "exact",
        "missing_both",
        "different",
    )

    def tag(self, sides: pl.DataFrame, field: str, fields: list[str]) -> pl.Series:
        return _name_tags(sides, field, fields)


class Dates(Tagger):
    name: ClassVar[str] = "dates"
    tags: ClassVar[tuple[str, ...]] = (
        "day_month_swapped",
        "digit_transposition",
        "partial_date",
        "off_by_a_little",
        "missing_one_side",
        "exact",
        "missing_both",
        "different",
    )

    def tag(self, sides: pl.DataFrame, field: str, fields: list[str]) -> pl.Series:
        return sides.select(_date_tags(field))["tag"]


class Other(Tagger):
    name: ClassVar[str] = "other"
    tags: ClassVar[tuple[str, ...]] = (
        "case_accent_spacing",
        "missing_one_side",
        "exact",
        "missing_both",
        "different",
    )

    def tag(self, sides: pl.DataFrame, field: str, fields: list[str]) -> pl.Series:
        return sides.select(_other_tags(field))["tag"]


GROUP = "curate.edge_cases"
SIDES = ("left", "right")  # the pair spec's keys that say where the records are


@cache
def available() -> dict[str, Tagger]:
    """Every registered tagger by the pair spec key it reads (names, dates, products, ...)."""
    return {name: cls() for name, cls in load_group(GROUP, Tagger, "edge-case tagger").items()}


def tag_pairs(records: pl.DataFrame, pair: dict) -> pl.DataFrame:
    """(record_id, field, tag) for every field the pair spec names, for every record."""
    taggers = available()
    lists = {key: list(value) for key, value in pair.items() if key not in SIDES}
    unknown = sorted(set(lists) - set(taggers))
    if unknown:
        raise ConfigError(
            f"[tasks.NAME.pair] lists fields under {', '.join(unknown)}, which no edge-case "
            f"tagger reads; the taggers are {', '.join(taggers)} (plugins register more under "
            f"the entry point group {GROUP})"
        )
    fields = [f for key in lists for f in lists[key]]
    if not fields or records.height == 0:
        return TAGS_SCHEMA.to_frame()
    unique = list(dict.fromkeys(fields))
    sides = records.select(
        "record_id",
        *[_side(pair.get("left", "metadata.left"), f).alias(f"l.{f}") for f in unique],
        *[_side(pair.get("right", "metadata.right"), f).alias(f"r.{f}") for f in unique],
    )
    out = []
    order = [
        "names",
        "dates",
        "other",
        *(k for k in taggers if k not in ("names", "dates", "other")),
    ]
    for key in order:
        tagger = taggers[key]
        for field in lists.get(key, []):
            tags = tagger.tag(sides, field, lists[key]).alias("tag")
            out.append(sides.select("record_id", pl.lit(field).alias("field")).with_columns(tags))
    return pl.concat(out).cast(dict(TAGS_SCHEMA))


def priority() -> list[str]:
    """Every hard tag, most telling first: the person tags in their long-standing order, then
    each other tagger's in its own order (balance files a record under the first it has)."""
    person = [
        "nickname",
        "first_last_swapped",
        "initial",
        "tokens_reordered",
        "day_month_swapped",
        "digit_transposition",
        "partial_date",
        "off_by_a_little",
        "typo",
        "case_accent_spacing",
        "missing_one_side",
    ]
    rest = [
        tag
        for name, tagger in available().items()
        if name not in ("names", "dates", "other")
        for tag in tagger.tags
        if tag not in NOT_HARD
    ]
    return list(dict.fromkeys([*person, *rest]))
