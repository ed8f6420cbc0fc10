"""Before and after: did the new model (or prompt, or period) fix what broke?

`compare(records, findings, tags, a, b)` splits the calls into A and B (a model name, a
prompt_version, or a period `YYYY-MM-DD..YYYY-MM-DD`), and for every detector, triage class
and edge case gives each side's failure rate with its Wilson interval, the difference with
Newcombe's interval, and, on the inputs both sides answered (matched by input_hash), the paired
counts with McNemar's test (exact binomial when fewer than 25 pairs disagree). The verdict per
row:

  fixed      significantly fewer failures, and none left in B
  improved   significantly fewer failures
  worse      significantly more failures
  unchanged  no significant difference (or no failures on either side)
  not on both sides  one side has no calls of this kind (an edge case only A has)

"Significantly" is McNemar's p < 0.05 when at least MIN_PAIRS inputs are matched (the paired
test is the stronger one), else Newcombe's 95% interval of the difference excluding 0.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import polars as pl

from curate.core.errors import ConfigError
from curate.core.tables import NOT_HARD
from curate.core.triage import CLASSES

ALPHA = 0.05  # significance: p < ALPHA (1 - 0.95 in floats is 0.050000000000000044)
CONFIDENCE = 1 - ALPHA  # of the intervals
MIN_PAIRS = 10
EXACT_BELOW = 25  # McNemar is exact (binomial) under this many discordant pairs
PERIOD = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
SNAPSHOT = r"-\d{4}-\d{2}-\d{2}"  # a dated model snapshot: gpt-4.1-nano-2025-04-14
ONE_SIDED = "not on both sides"  # the verdict of a row one side has no calls for


def side(records: pl.DataFrame, name: str) -> tuple[pl.Expr, str, list[str]]:
    """The filter that selects side `name` of a comparison, what `name` is, and the models it
    covers.

    A model name covers its dated snapshots too: Batch and chat logs name a failed call by the
    model asked for ("gpt-4.1-nano") and an answered one by the snapshot that answered
    ("gpt-4.1-nano-2025-04-14"), so "gpt-4.1-nano" is both.
    """
    period = PERIOD.match(name)
    if period:
        try:
            start, end = (date.fromisoformat(d) for d in period.groups())
        except ValueError as exc:
            raise ConfigError(f"--compare {name!r}: not a period of real dates ({exc})") from None
        if start > end:
            raise ConfigError(
                f"--compare {name!r}: the period ends before it starts; write START..END"
            )
        day = pl.col("timestamp").dt.date()
        return (day >= start) & (day <= end), "period", []
    snapshot = re.compile(re.escape(name) + SNAPSHOT)
    models = sorted(
        m
        for m in records["model"].drop_nulls().unique().to_list()
        if m == name or snapshot.fullmatch(m)
    )
    if models:
        return pl.col("model").is_in(models), "model", models
    if name in set(records["prompt_version"].drop_nulls()):
        return pl.col("prompt_version") == name, "prompt_version", []
    models = sorted(records["model"].drop_nulls().unique().to_list())[:8]
    versions = sorted(records["prompt_version"].drop_nulls().unique().to_list())[:8]
    raise ConfigError(
        f"--compare {name!r} is neither a model nor a prompt_version of these logs, nor a "
        f"period YYYY-MM-DD..YYYY-MM-DD. Models: {', '.join(models) or 'none'}; prompt "
        f"versions: {', '.join(versions) or 'none'}"
    )


def model_families(models: list[str]) -> dict[str, str]:
    """Each model name -> the name that covers it: a dated snapshot's undated name where the
    logs have that too (see `side`), else itself."""
    present = set(models)
    out = {}
    for model in models:
        base = re.sub(SNAPSHOT + "$", "", model)
        out[model] = base if base in present else model
    return out


def wilson(k: int, n: int) -> list[float] | None:
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return None
    low, high = proportion_confint(k, n, alpha=ALPHA, method="wilson")
    return [float(low), float(high)]


def newcombe(k_b: int, n_b: int, k_a: int, n_a: int) -> list[float] | None:
    """Interval of rate(B) - rate(A)."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    if n_a == 0 or n_b == 0:
        return None
    low, high = confint_proportions_2indep(
        k_b, n_b, k_a, n_a, method="newcomb", compare="diff", alpha=ALPHA
    )
    return [float(low), float(high)]


def mcnemar_p(only_a: int, only_b: int) -> float | None:
    """McNemar's test on the discordant pairs: exact binomial under 25, else chi-square with
    continuity correction; None when no pair disagrees."""
    from statsmodels.stats.contingency_tables import mcnemar

    if only_a + only_b == 0:
        return None
    exact = only_a + only_b < EXACT_BELOW
    result = mcnemar([[0, only_a], [only_b, 0]], exact=exact, correction=True)
    return float(result.pvalue)


def format_p(p: float | None) -> str:
    """A p-value for people: three decimals, scientific notation below 0.001 (2.4e-57)."""
    if p is None:
        return "-"
    if p == 0:
        return "< 1e-300"  # below what a float holds
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def _verdict(row: dict[str, Any]) -> str:
    a, b = row["a"], row["b"]
    if not a["calls"] or not b["calls"]:
        return ONE_SIDED
    if a["failures"] == 0 and b["failures"] == 0:
        return "unchanged"
    paired = row["paired"]
    if paired["inputs"] >= MIN_PAIRS:
        p = paired["p_value"]
        significant = p is not None and p < ALPHA
        direction = paired["only_b_failed"] - paired["only_a_failed"]
    else:
        ci = row["difference_ci"]
        significant = ci[0] > 0 or ci[1] < 0
        direction = b["rate"] - a["rate"]
    if not significant or direction == 0:
        return "unchanged"
    if direction > 0:
        return "worse"
    return "fixed" if b["failures"] == 0 else "improved"


def _row(failed: pl.DataFrame) -> dict[str, Any]:
    """One comparison row from (input_hash, side, failed) rows of the calls it covers."""
    out: dict[str, Any] = {}
    for name in ("a", "b"):
        mine = failed.filter(pl.col("side") == name)
        n, k = mine.height, int(mine["failed"].sum())
        out[name] = {
            "calls": n,
            "failures": k,
            "rate": k / n if n else None,
            "ci": wilson(k, n),
        }
    a, b = out["a"], out["b"]
    out["difference"] = (
        b["rate"] - a["rate"] if a["rate"] is not None and b["rate"] is not None else None
    )
    out["difference_ci"] = newcombe(b["failures"], b["calls"], a["failures"], a["calls"])
    per_input = (
        failed.drop_nulls("input_hash")
        .group_by("input_hash", "side")
        .agg(pl.col("failed").any())
        .pivot(on="side", index="input_hash", values="failed")
    )
    if {"a", "b"} <= set(per_input.columns):
        both = per_input.drop_nulls(["a", "b"])
        only_a = int((both["a"] & ~both["b"]).sum())
        only_b = int((~both["a"] & both["b"]).sum())
        inputs = both.height
    else:
        only_a = only_b = inputs = 0
    out["paired"] = {
        "inputs": inputs,
        "only_a_failed": only_a,
        "only_b_failed": only_b,
        "p_value": mcnemar_p(only_a, only_b),
        "test": "mcnemar-exact" if only_a + only_b < EXACT_BELOW else "mcnemar-chi2",
    }
    out["verdict"] = _verdict(out)
    return out


def compare(
    records: pl.DataFrame, findings: pl.DataFrame, tags: pl.DataFrame | None, a: str, b: str
) -> dict[str, Any]:
    """A against B, per detector, triage class and edge case (see the module docstring)."""
    where_a, kind_a, models_a = side(records, a)
    where_b, kind_b, models_b = side(records, b)
    both = records.select((where_a & where_b).fill_null(False).sum()).item()
    if both:
        raise ConfigError(
            f"--compare {a!r} {b!r}: {both} calls are both, so neither side would be what it "
            "says; compare sets that do not overlap (two models, two prompt versions, or two "
            "periods)"
        )
    calls = records.select(
        "record_id",
        "input_hash",
        pl.when(where_a).then(pl.lit("a")).when(where_b).then(pl.lit("b")).alias("side"),
    ).drop_nulls("side")
    sizes = dict(calls.group_by("side").len().iter_rows())
    for name, label in (("a", a), ("b", b)):
        if not sizes.get(name):
            raise ConfigError(f"--compare: no call is {label!r}")
    mine = findings.join(calls.select("record_id"), on="record_id", how="semi")

    def rows_by(column: str, failing: pl.DataFrame, values: list[str], base: pl.DataFrame):
        out = {}
        for value in values:
            hit = failing.filter(pl.col(column) == value).select("record_id").unique()
            failed = base.join(
                hit.with_columns(pl.lit(True).alias("failed")), on="record_id", how="left"
            ).with_columns(pl.col("failed").fill_null(False))
            out[value] = _row(failed)
        return out

    detectors = sorted(mine["detector"].unique().to_list())
    present = set(mine["triage"].drop_nulls())
    triage = [t for t in CLASSES if t in present]
    any_failure = mine.select("record_id").unique().with_columns(pl.lit("any").alias("all"))
    result = {
        "a": {"name": a, "kind": kind_a, "calls": sizes["a"], "models": models_a},
        "b": {"name": b, "kind": kind_b, "calls": sizes["b"], "models": models_b},
        "any_failure": rows_by("all", any_failure, ["any"], calls)["any"],
        "by_detector": rows_by("detector", mine, detectors, calls),
        "by_triage": rows_by("triage", mine, triage, calls),
        "by_edge_case": {},
    }
    if not result["any_failure"]["paired"]["inputs"]:
        result["notes"] = [
            f"{a!r} and {b!r} answered no input in common: the rates are of different calls, "
            "and no paired test can be made (log both sides on the same inputs)"
        ]
    if tags is not None and tags.height:
        hard = tags.filter(~pl.col("tag").is_in(NOT_HARD))
        for tag in sorted(hard["tag"].unique().to_list()):
            tagged = calls.join(
                hard.filter(pl.col("tag") == tag).select("record_id").unique(), on="record_id"
            )
            if tagged.height:
                failed = tagged.join(
                    any_failure.select("record_id", pl.lit(True).alias("failed")),
                    on="record_id",
                    how="left",
                ).with_columns(pl.col("failed").fill_null(False))
                result["by_edge_case"][tag] = _row(failed)
    return result


__all__ = ["compare", "format_p", "mcnemar_p", "newcombe", "wilson"]
