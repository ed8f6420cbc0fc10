"""What a fine-tune saves: tokens and cost per million calls today and with a short prompt, and
the latency a shorter prompt saves (time to first token against prompt tokens where the logs
carry it, else total latency with completion tokens as a second variable)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from curate.core.config import Config

SHORT_PROMPT_TOKENS = 60  # a short system prompt after fine-tuning, unless [report] says


def cost_case(records: pl.DataFrame, config: Config) -> dict[str, Any]:
    """Tokens and cost per million calls today and after fine-tuning; the prefill latency fit."""
    from curate.core.text import TOKENIZER, tokenizer

    section = config.section("report")
    prices = section.get("prices", {})
    short = int(section.get("short_prompt_tokens", SHORT_PROMPT_TOKENS))
    encoding = tokenizer()
    first = pl.col("messages").list.first()
    systems = (
        records.filter(first.struct.field("role") == "system")
        .group_by("prompt_version")
        .agg(first.struct.field("content").first().alias("system"), pl.len().alias("calls"))
    )
    system_tokens = {
        version: (len(encoding.encode(text or "")), calls)
        for version, text, calls in systems.iter_rows()
    }
    usage = records.filter(pl.col("prompt_tokens").is_not_null())
    out: dict[str, Any] = {"calls_with_usage": usage.height, "tokenizer": TOKENIZER, "notes": []}
    if usage.height == 0:
        out["notes"].append("token usage is not in these logs: no cost case")
        out["notes"].append(latency_note(records))
        return out
    mean_prompt = float(usage["prompt_tokens"].mean())
    mean_completion = float(usage["completion_tokens"].fill_null(0).mean())
    weighted = sum(t * c for t, c in system_tokens.values())
    calls = sum(c for _, c in system_tokens.values())
    mean_system = weighted / calls if calls else 0.0
    after = max(mean_prompt - mean_system + short, 0.0) if calls else mean_prompt
    if not calls:
        out["notes"].append(
            "no system prompt is in these logs (Batch output without its input file?): the "
            "fine-tuned projection keeps today's prompt length"
        )
    out |= {
        "prompt_tokens_per_call": round(mean_prompt, 1),
        "completion_tokens_per_call": round(mean_completion, 1),
        "system_prompt_tokens": round(mean_system, 1) if calls else None,
        "system_prompt_share": round(mean_system / mean_prompt, 4)
        if mean_prompt and calls
        else None,
        "per_million_calls": {
            "today": {
                "prompt_tokens": round(mean_prompt * 1e6),
                "completion_tokens": round(mean_completion * 1e6),
            },
            "fine_tuned_short_prompt": {
                "prompt_tokens": round(after * 1e6),
                "completion_tokens": round(mean_completion * 1e6),
            },
        },
    }
    if prices:
        today = mean_prompt * prices.get("input", 0) + mean_completion * prices.get("output", 0)
        tuned = after * prices.get(
            "finetuned_input", prices.get("input", 0)
        ) + mean_completion * prices.get("finetuned_output", prices.get("output", 0))
        out["per_million_calls"]["today"]["cost"] = round(today, 2)
        out["per_million_calls"]["fine_tuned_short_prompt"]["cost"] = round(tuned, 2)
    else:
        out["notes"].append(
            "set [report.prices] input, output, finetuned_input, finetuned_output "
            "(per 1M tokens) for costs"
        )
    fit = latency_fit(usage, mean_prompt - after)
    if fit is None:
        out["notes"].append(latency_note(records))
    else:
        out["latency_fit"] = fit
    return out


MIN_FIT_POINTS = 10


TTFT = "time to first token against prompt tokens"


TOTAL_TWO = "total latency against prompt tokens, with completion tokens as a second variable"


TOTAL_ONE = "total latency against prompt tokens (generation included: no completion tokens logged)"


def _fit_rows(usage: pl.DataFrame) -> tuple[str, pl.DataFrame] | None:
    """What can be fitted, best first: prefill latency itself (time to first token) where the
    logs carry it; else total latency, with completion tokens as a second variable."""
    ttft = usage.filter(pl.col("ttft_ms").is_not_null())
    if ttft.height >= MIN_FIT_POINTS and ttft["prompt_tokens"].n_unique() > 1:
        return TTFT, ttft.select("prompt_tokens", pl.col("ttft_ms").alias("y"))
    timed = usage.filter(pl.col("latency_ms").is_not_null())
    if timed.height < MIN_FIT_POINTS or timed["prompt_tokens"].n_unique() < 2:
        return None
    both = timed.filter(pl.col("completion_tokens").is_not_null())
    if both.height >= MIN_FIT_POINTS and both["completion_tokens"].n_unique() > 1:
        return TOTAL_TWO, both.select(
            "prompt_tokens", "completion_tokens", pl.col("latency_ms").alias("y")
        )
    return TOTAL_ONE, timed.select("prompt_tokens", pl.col("latency_ms").alias("y"))


def latency_fit(usage: pl.DataFrame, saved_tokens: float) -> dict[str, Any] | None:
    """Least squares of latency on prompt tokens (and completion tokens, when total latency is
    what the logs have): the prefill cost of a prompt token, and what a shorter prompt saves."""
    found = _fit_rows(usage)
    if found is None:
        return None
    fitted, rows = found
    columns = [c for c in ("prompt_tokens", "completion_tokens") if c in rows.columns]
    x = np.column_stack(
        [np.ones(rows.height), *(rows[c].to_numpy().astype(float) for c in columns)]
    )
    coef, *_ = np.linalg.lstsq(x, rows["y"].to_numpy().astype(float), rcond=None)
    out = {
        "fitted": fitted,
        "ms_per_1k_prompt_tokens": round(float(coef[1]) * 1000, 2),
        "intercept_ms": round(float(coef[0]), 1),
        "calls": rows.height,
        "saved_ms_per_call_with_short_prompt": round(float(coef[1]) * saved_tokens, 1),
    }
    if len(columns) == 2:
        out["ms_per_completion_token"] = round(float(coef[2]), 2)
        out["mean_completion_tokens"] = round(float(rows["completion_tokens"].mean()), 1)
    return out


def latency_note(records: pl.DataFrame) -> str:
    """Why there is no latency fit: what the logs lack."""
    timed = records.filter(
        pl.col("latency_ms").is_not_null() & pl.col("prompt_tokens").is_not_null()
    )
    if records["latency_ms"].null_count() == records.height:
        return "latency is not in these logs: no latency fit"
    if timed.height < MIN_FIT_POINTS:
        return (
            f"only {timed.height} calls have both latency and token usage: no latency fit "
            f"(it needs {MIN_FIT_POINTS})"
        )
    return "every call with latency has the same prompt length: no latency fit"


def latency_points(records: pl.DataFrame, limit: int = 2000) -> list[dict[str, Any]]:
    """Up to `limit` calls of what the latency fit uses (y: its latency), for the chart."""
    found = _fit_rows(records.filter(pl.col("prompt_tokens").is_not_null()))
    if found is None:
        return []
    rows = found[1].select("prompt_tokens", pl.col("y").alias("latency_ms"))
    return rows.sample(n=min(limit, rows.height), seed=0, shuffle=True).to_dicts()
