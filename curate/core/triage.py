"""Triage: which failures a fine-tune can fix, and which the configuration, the serving side,
structured outputs or the prompt fix first.

Every finding gets one class by the first rule of RULES that matches it (a detector, and a
condition on the record); a record's class is the most basic of its findings' classes
(CLASSES is in that order: a truncated answer is also invalid JSON, and raising max_tokens
fixes both). The rules are data, shown in the README as this table; a detector no rule names
(a plugin's) falls in its `triage` class (default: decision).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from curate.core.text import label_key

# most basic first: a record's class is the first of these among its findings' classes
CLASSES = ("config", "infrastructure", "safety", "format", "decision")

# what removes a failure of each class, and what the report calls it
LEVERS = {
    "config": "change the configuration (max_tokens, context length)",
    "infrastructure": "fix the serving side (retries with backoff, timeouts, rate limits)",
    "safety": "revise the prompt or the policy (what the model may answer)",
    "format": "use structured outputs / constrained decoding (or a format fine-tune)",
    "decision": "fine-tune on hard examples",
}

# the classes a training set leaves out unless asked: nothing a fine-tune would learn
NOT_FOR_TRAINING = ("config", "infrastructure")

CONTEXT_OVERFLOW = (
    r"(?i)context.length|context.window|maximum context|too many tokens|prompt is too long"
)


@dataclass(frozen=True)
class Rule:
    detector: str
    when: str | None  # a name in CONDITIONS, or None: always
    triage: str
    why: str


RULES: tuple[Rule, ...] = (
    Rule("api_error", "context_overflow", "config", "the request did not fit the context window"),
    Rule("api_error", None, "infrastructure", "rate limit, timeout or server error: no answer"),
    Rule(
        "truncated",
        "stopped_at_length",
        "config",
        "cut at max_tokens: raise it, or ask for a shorter answer",
    ),
    Rule("truncated", None, "format", "cut inside its JSON or code fence before any limit"),
    Rule("empty_output", "content_filter", "safety", "the provider's content filter"),
    Rule("empty_output", "stopped_at_length", "config", "no room left to answer (max_tokens)"),
    Rule("empty_output", None, "format", "an answer with no content"),
    Rule("refusal", None, "safety", "the model declined"),
    Rule("invalid_json", None, "format", "the right answer may be there, not as valid JSON"),
    Rule("schema_violation", None, "format", "JSON, not in the schema asked for"),
    Rule("label_unparseable", None, "format", "no label where the label should be"),
    Rule(
        "label_out_of_vocab",
        "far_from_reference",
        "decision",
        "a label outside the vocabulary, and not a spelling of the right one",
    ),
    Rule(
        "label_out_of_vocab",
        None,
        "format",
        "a label outside the vocabulary that spells the reference (or there is no reference)",
    ),
    Rule("tool_call_invalid", None, "format", "a tool call that does not parse or fit its tool"),
    Rule(
        "reference_mismatch",
        "reference_in_other_words",
        "format",
        "the right answer in other words, no label read: 'Topic: Account.' for account",
    ),
    Rule(
        "reference_mismatch",
        None,
        "decision",
        "a readable answer that disagrees with the known one",
    ),
    Rule("inconsistent", None, "decision", "different answers to the same input"),
    Rule("negative_feedback", None, "decision", "a person said the answer was wrong"),
    Rule("low_confidence", None, "decision", "the model was unsure of its answer"),
)

# the out-of-vocabulary evidence ends "nearest: 'LABEL' (score N)" (the end: a quoted output
# cannot fake it); a label this near (rapidfuzz WRatio) is a spelling of it
_NEAREST = r"nearest: '([^']+)' \(score (\d+)\)$"
NEAR = 80
LIMIT_REASONS = ("length", "max_tokens", "max_output_tokens")


def _conditions() -> dict[str, pl.Expr]:
    """Conditions over a finding joined with its record (output, reference, finish_reason,
    error) and its labels row (`label` read from the output; `class`: the reference read as a
    label)."""
    nearest = pl.col("evidence").str.extract(_NEAREST, 1)
    score = pl.col("evidence").str.extract(_NEAREST, 2).cast(pl.Int64, strict=False)
    spells_reference = (nearest == pl.col("class")) & (score >= NEAR)
    padded = pl.lit(" ") + label_key(pl.col("output")) + pl.lit(" ")
    answer = pl.lit(" ") + label_key(pl.col("reference")) + pl.lit(" ")
    in_other_words = pl.col("label").is_null() & padded.str.contains(answer, literal=True)
    return {
        "reference_in_other_words": in_other_words.fill_null(False),
        "context_overflow": pl.col("error").str.contains(CONTEXT_OVERFLOW).fill_null(False),
        "content_filter": (pl.col("finish_reason") == "content_filter").fill_null(False),
        "stopped_at_length": pl.col("finish_reason").is_in(LIMIT_REASONS).fill_null(False),
        "far_from_reference": (pl.col("class").is_not_null() & ~spells_reference.fill_null(False)),
    }


def rules_table() -> list[dict[str, str]]:
    """The rules as rows: detector, when, triage, why (the README shows them)."""
    return [
        {"detector": r.detector, "when": r.when or "always", "triage": r.triage, "why": r.why}
        for r in RULES
    ]


def triage_expr(fallback: dict[str, str]) -> pl.Expr:
    """Each finding's class: the first matching rule, else its detector's `fallback` class."""
    conditions = _conditions()
    expr = pl.col("detector").replace_strict(fallback, default="decision", return_dtype=pl.String)
    for rule in reversed(RULES):
        hit = pl.col("detector") == rule.detector
        if rule.when is not None:
            hit = hit & conditions[rule.when]
        expr = pl.when(hit).then(pl.lit(rule.triage)).otherwise(expr)
    return expr.alias("triage")


def record_triage(findings: pl.DataFrame) -> pl.DataFrame:
    """record_id -> its class: the most basic class among its findings."""
    rank = {name: i for i, name in enumerate(CLASSES)}
    return (
        findings.with_columns(
            pl.col("triage").replace_strict(rank, default=len(CLASSES)).alias("_r")
        )
        .sort("_r")
        .group_by("record_id", maintain_order=True)
        .agg(pl.col("triage").first())
    )


def at_token_limit(workspace: Any, config: Any) -> pl.DataFrame:
    """The record_id of every call that stopped at the token limit: a finish_reason among the
    truncated detector's `finish_reasons` ([detectors.truncated] of curate.toml, or
    LIMIT_REASONS)."""
    section = config.section("detectors").get("truncated") or {}
    reasons = list(section.get("finish_reasons", LIMIT_REASONS))
    return (
        workspace.scan_records()
        .filter(pl.col("finish_reason").is_in(reasons))
        .select("record_id")
        .collect()
    )


def limit_hits(at_limit: pl.DataFrame, findings: pl.DataFrame) -> dict[str, int]:
    """Of the calls that stopped at the token limit (`at_limit`: their record_id): how many,
    how many the cut failed (a `truncated` finding), how many failed for another reason, and
    how many had their answer complete (no finding): a limit hit is not a failure by itself."""
    ids = at_limit.select("record_id").unique()
    cut = ids.join(
        findings.filter(pl.col("detector") == "truncated").select("record_id"),
        on="record_id",
        how="semi",
    )
    failing = ids.join(findings.select("record_id"), on="record_id", how="semi")
    return {
        "calls": ids.height,
        "cut": cut.height,
        "failing_otherwise": failing.height - cut.height,
        "complete": ids.height - failing.height,
    }


def limit_note(hits: dict[str, int]) -> str | None:
    """One sentence for people about `limit_hits`, or None when no call hit the limit."""
    if not hits["calls"]:
        return None
    note = (
        f"{hits['calls']:,} calls stopped at the token limit (max_tokens): "
        f"{hits['complete']:,} after a complete answer (no failure), "
        f"{hits['cut']:,} cut before their answer could be read (truncated)"
    )
    if hits["failing_otherwise"]:
        note += (
            f", {hits['failing_otherwise']:,} with an answer the limit did not cut that fails "
            "for another reason"
        )
    return note


__all__ = [
    "CLASSES",
    "LEVERS",
    "NOT_FOR_TRAINING",
    "RULES",
    "limit_hits",
    "limit_note",
    "record_triage",
    "rules_table",
]
