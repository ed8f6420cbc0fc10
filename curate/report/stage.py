"""The report: should we fine-tune yet, and on what? The answer is in the logs.

- Failure rates per detector over time and per prompt_version, with a plain verdict on whether
  prompting has plateaued (the trend across the latest prompt versions of each task).
- Readiness of the training set against a target (labelled examples, class balance, edge cases
  covered), and what is missing.
- The cost case: prompt tokens per call and the share the system prompt takes; tokens and cost
  per million calls today and with a short prompt after fine-tuning (prices in curate.toml);
  prefill latency against prompt length: time to first token where the logs carry it, else
  total latency with completion tokens as a second variable (the chart says which).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.core.config import Config
from curate.core.project import Project
from curate.core.workspace import Workspace

# A prompt change whose effect on the failure rate is, with 95% confidence, within this share of
# the earlier rate either way (but never less than the floor, in rate points) has plateaued;
# `[report] plateau_margin` and `plateau_floor` change them.
PLATEAU_MARGIN = 0.10
PLATEAU_FLOOR = 0.001
DEFAULT_TARGET = 1000
SHORT_PROMPT_TOKENS = 60  # a short system prompt after fine-tuning, unless [report] says
MIN_PER_EDGE_CASE = 10


def _table(workspace: Workspace, name: str) -> pl.DataFrame | None:
    return workspace.read_table(name) if workspace.has_table(name) else None


def failure_trends(
    records: pl.DataFrame,
    findings: pl.DataFrame,
    *,
    margin: float = PLATEAU_MARGIN,
    floor: float = PLATEAU_FLOOR,
) -> dict[str, Any]:
    """Failure rates per detector by week, and per task, model and prompt_version with a
    verdict on the prompt versions of each task and model (a second model is no prompt)."""
    failing = findings.select("record_id", "detector").unique()
    any_failure = failing.select("record_id").unique().with_columns(pl.lit(True).alias("_failed"))
    from curate.report.compare import model_families

    keys = ["task", "model", "prompt_version"]
    families = model_families(records["model"].drop_nulls().unique().to_list())
    base = (
        records.select(
            "record_id",
            "task",
            pl.col("model").replace(families),
            "prompt_version",
            "timestamp",
        )
        .join(any_failure, on="record_id", how="left")
        .with_columns(
            pl.col("_failed").fill_null(False),
            pl.col("timestamp").dt.truncate("1w").dt.date().alias("week"),
        )
    )
    by_week = _weekly(base, failing)
    versions = (
        base.group_by(keys)
        .agg(
            pl.len().alias("records"),
            pl.col("_failed").sum().alias("failures"),
            pl.col("_failed").mean().alias("failure_rate"),
            pl.col("timestamp").min().alias("first_seen"),
        )
        .sort("task", "model", "first_seen", "prompt_version", nulls_last=True)
    )
    per_detector = (
        failing.join(base.select("record_id", *keys), on="record_id")
        .group_by(*keys, "detector")
        .len()
    )
    verdicts = {}
    for (task,), mine in versions.group_by("task", maintain_order=True):
        models = mine["model"].unique(maintain_order=True).to_list()
        for model in models:
            one = mine.filter(pl.col("model").eq_missing(model))
            name = task or "(no task)"
            if len(models) > 1:
                name += f" ({model or 'no model'})"
            verdicts[name] = plateau_verdict(
                one["prompt_version"].to_list(),
                one["records"].to_list(),
                one["failures"].to_list(),
                margin=margin,
                floor=floor,
            )
    undated = int(base["week"].null_count())
    notes = []
    if undated:
        notes.append(
            "no timestamps in these logs: no weekly trend"
            if undated == base.height
            else f"{undated} of {base.height} calls have no timestamp: left out of the weekly trend"
        )
    return {
        "notes": notes,
        "by_week": by_week,
        "by_prompt_version": [
            {
                **row,
                "first_seen": str(row["first_seen"]),
                "detectors": dict(
                    per_detector.filter(
                        pl.col("task").eq_missing(row["task"])
                        & pl.col("model").eq_missing(row["model"])
                        & pl.col("prompt_version").eq_missing(row["prompt_version"])
                    )
                    .select("detector", "len")
                    .iter_rows()
                ),
            }
            for row in versions.to_dicts()
        ],
        "verdicts": verdicts,
    }


def _weekly(base: pl.DataFrame, failing: pl.DataFrame) -> list[dict[str, Any]]:
    """Per week (Monday) and detector, and for any failure: calls, failing calls, the rate and
    its Wilson interval. Weeks, not days: ten detectors' daily series cannot be read."""
    from curate.report.compare import wilson

    dated = base.drop_nulls("week")
    weeks = dated.group_by("week").agg(pl.len().alias("calls"))
    per_detector = (
        failing.join(dated.select("record_id", "week"), on="record_id")
        .group_by("week", "detector")
        .agg(pl.col("record_id").n_unique().alias("failures"))
    )
    any_failure = (
        dated.filter(pl.col("_failed"))
        .group_by("week")
        .len("failures")
        .with_columns(pl.lit("any failure").alias("detector"))
        .select("week", "detector", "failures")
    )
    rows = (
        pl.concat([per_detector, any_failure.cast({"failures": pl.UInt32})])
        .join(weeks, on="week")
        .sort("week", "detector")
    )
    return [
        {
            "week": str(week),
            "detector": detector,
            "calls": calls,
            "failures": failures,
            "rate": round(failures / calls, 4),
            "ci": wilson(failures, calls),
        }
        for week, detector, failures, calls in rows.select(
            "week", "detector", "failures", "calls"
        ).iter_rows()
    ]


def plateau_verdict(
    names: list[str],
    calls: list[int],
    failures: list[int],
    *,
    margin: float = PLATEAU_MARGIN,
    floor: float = PLATEAU_FLOOR,
) -> dict[str, Any]:
    """Has prompting plateaued? Every prompt version in order (first seen first), each failure
    rate with its Wilson interval; the verdict is on the latest change, from the 95% interval
    of the difference between the last two versions (Newcombe's, from Wilson's) and the plateau
    margin m = max(`margin` x the earlier rate, `floor`):

    - the interval lies wholly within +-m: "plateaued" (no change that size, with confidence);
    - else wholly below 0: "improving" (the latest prompt fails less, by more than m may be);
    - else wholly above 0: "worse";
    - else: "not enough calls to tell" (neither a change nor its absence is shown).
    """
    from curate.report.compare import CONFIDENCE, newcombe, wilson

    table = [
        {"prompt_version": name, "calls": n, "failures": k, "rate": k / n, "ci": wilson(k, n)}
        for name, n, k in zip(names, calls, failures, strict=True)
    ]
    out: dict[str, Any] = {"versions": table, "confidence": CONFIDENCE}
    if len(table) < 2:
        return out | {"verdict": "no trend yet", "why": "only one prompt version in the logs"}
    before, after = table[-2], table[-1]
    low, high = newcombe(after["failures"], after["calls"], before["failures"], before["calls"])
    difference = after["rate"] - before["rate"]
    plateau = max(margin * before["rate"], floor)
    if -plateau <= low and high <= plateau:
        verdict = "plateaued: fine-tune on the failures"
    elif high < 0:
        verdict = "improving: the latest prompt fails less; prompting still helps"
    elif low > 0:
        verdict = "worse: the latest prompt fails more"
    else:
        verdict = "not enough calls to tell"
    why = (
        f"{before['prompt_version']} failed {before['rate']:.1%} of {before['calls']} calls, "
        f"{after['prompt_version']} {after['rate']:.1%} of {after['calls']}: a change of "
        f"{difference * 100:+.2f} points, {CONFIDENCE:.0%} interval {low * 100:+.2f} to "
        f"{high * 100:+.2f} (plateau: within +-{plateau * 100:.2f} points, "
        f"{margin:.0%} of the earlier rate, at least {floor * 100:.2f})"
    )
    return out | {
        "verdict": verdict,
        "why": why,
        "latest": after["prompt_version"],
        "latest_failure_rate": after["rate"],
        "margin": plateau,
        "change": {"difference": difference, "ci": [low, high]},
    }


def readiness(workspace: Workspace, target: int) -> dict[str, Any]:
    """Per task: labelled examples against the target, per class and edge case; what is missing."""
    from curate.core.tables import NOT_HARD

    resolved = _table(workspace, "resolved")
    candidates = _table(workspace, "candidates")
    tags = _table(workspace, "tags")
    answered = ["label", "corrected_output"]
    labelled = set(
        resolved.filter(pl.col("question").is_in(answered))["record_id"]
        if resolved is not None
        else []
    )
    out: dict[str, Any] = {"target": target, "labelled": 0, "tasks": {}, "missing": []}
    if candidates is None:
        out["missing"].append("no candidates yet: run `curate balance`")
        return out
    for task in sorted(candidates["task"].unique().drop_nulls()):
        mine = candidates.filter(pl.col("task") == task)
        done = mine.filter(pl.col("record_id").is_in(list(labelled)))
        by_class = dict(done.group_by("class").len().iter_rows())
        summary: dict[str, Any] = {"labelled": done.height, "by_class": by_class, "edge_cases": {}}
        missing = []
        if done.height < target:
            missing.append(
                f"{target - done.height} more labelled examples ({done.height} of {target})"
            )
        classes = sorted(set(mine["class"]) - {"unknown"})
        share = target / max(len(classes), 1)
        missing += [
            f"class {c}: {by_class.get(c, 0)} labelled, want about {share:.0f}"
            for c in classes
            if by_class.get(c, 0) < 0.8 * share
        ]
        if tags is not None and tags.height:
            hard = tags.filter(
                pl.col("record_id").is_in(mine["record_id"].implode())
                & ~pl.col("tag").is_in(NOT_HARD)
            )
            for tag, ids in (
                hard.group_by("tag").agg(pl.col("record_id").unique()).sort("tag").iter_rows()
            ):
                have = len(set(ids) & labelled)
                summary["edge_cases"][tag] = have
                if have < MIN_PER_EDGE_CASE:
                    missing.append(f"edge case {tag}: {have} labelled, want >= {MIN_PER_EDGE_CASE}")
        summary["missing"] = missing
        out["tasks"][task] = summary
        out["labelled"] += done.height
        out["missing"] += [f"{task}: {line}" for line in missing]
    out["ready"] = not out["missing"]
    return out


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


def levers(findings: pl.DataFrame, examples: int = 3) -> dict[str, Any]:
    """Per triage class: the failing records it holds (each record under its most basic class),
    their share of all failing records, the lever that removes them, and examples."""
    from curate.core.triage import CLASSES, LEVERS, record_triage

    classes = record_triage(findings.drop_nulls("triage"))
    total = classes.height
    out: dict[str, Any] = {}
    for name in CLASSES:
        ids = classes.filter(pl.col("triage") == name)["record_id"]
        shown = (
            findings.filter(pl.col("record_id").is_in(ids.head(examples).implode()))
            .filter(pl.col("triage") == name)
            .unique("record_id", keep="first", maintain_order=True)
            .select("record_id", "detector", "evidence")
            .to_dicts()
        )
        out[name] = {
            "records": ids.len(),
            "share": round(ids.len() / total, 4) if total else 0.0,
            "lever": LEVERS[name],
            "examples": shown,
        }
    return out


def build_report(project: Project, compare_with: tuple[str, str] | None = None) -> dict[str, Any]:
    """Every number of the report, as a JSON-able dict; with `compare_with` (A, B), the before
    and after of curate/report/compare.py too."""
    workspace, config = project.workspace, project.config
    workspace.require()
    columns = [
        "record_id",
        "task",
        "model",
        "input_hash",
        "prompt_version",
        "timestamp",
        "prompt_tokens",
        "completion_tokens",
        "latency_ms",
        "ttft_ms",
        "messages",
    ]
    records = workspace.scan_records().select(columns).collect()
    findings = workspace.read_table("findings", needed_by="curate report")
    section = config.section("report")
    target = int(section.get("target", DEFAULT_TARGET))
    report: dict[str, Any] = {}
    if compare_with is not None:
        from curate.report.compare import compare

        report["compare"] = compare(records, findings, _table(workspace, "tags"), *compare_with)
    resolved, candidates = _table(workspace, "resolved"), _table(workspace, "candidates")
    if resolved is not None and candidates is not None:
        from curate.core.answers import reference_audit, referenced_records
        from curate.core.suggestions import judge_agreement, latest_suggestions

        report["judge"] = judge_agreement(latest_suggestions(workspace), resolved, candidates)
        report["reference_audit"] = reference_audit(
            referenced_records(workspace), resolved, project.tasks
        )
    notes = []
    if findings.height and findings["triage"].null_count() == findings.height:
        notes.append(
            "these findings were written by an older curate, without triage: run `curate detect` "
            "again to see what would fix them"
        )
    from curate.core.triage import at_token_limit, limit_hits, limit_note

    hits = limit_hits(at_token_limit(workspace, project.config), findings)
    if limit_note(hits):
        notes.append(limit_note(hits))
    if notes:
        report["notes"] = notes
    return report | {
        "token_limit": hits,
        "records": records.height,
        "triage": levers(findings),
        "failures": failure_trends(
            records,
            findings,
            margin=float(section.get("plateau_margin", PLATEAU_MARGIN)),
            floor=float(section.get("plateau_floor", PLATEAU_FLOOR)),
        ),
        "readiness": readiness(workspace, target),
        "cost": cost_case(records, config),
        "_latency_points": _latency_points(records),
    }


def _latency_points(records: pl.DataFrame, limit: int = 2000) -> list[dict[str, Any]]:
    """Up to `limit` calls of what the latency fit uses (y: its latency), for the chart."""
    found = _fit_rows(records.filter(pl.col("prompt_tokens").is_not_null()))
    if found is None:
        return []
    rows = found[1].select("prompt_tokens", pl.col("y").alias("latency_ms"))
    return rows.sample(n=min(limit, rows.height), seed=0, shuffle=True).to_dicts()


WEEKLY_DETECTORS = 5  # the weekly chart shows any failure and the detectors that fail most


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _table_html(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _error_bars(rates: list[float | None], cis: list[list[float] | None]) -> dict[str, Any]:
    return {
        "type": "data",
        "symmetric": False,
        "array": [
            ci[1] - r if ci and r is not None else 0 for r, ci in zip(rates, cis, strict=True)
        ],
        "arrayminus": [
            r - ci[0] if ci and r is not None else 0 for r, ci in zip(rates, cis, strict=True)
        ],
    }


def _levers_chart(report: dict[str, Any]):
    import plotly.graph_objects as go

    shown = {k: v for k, v in report["triage"].items() if v["records"]}
    if not shown:
        return None
    figure = go.Figure(
        go.Bar(
            x=[v["share"] for v in shown.values()],
            y=[f"{k}: {v['lever']}" for k, v in shown.items()],
            orientation="h",
            text=[f"{v['share']:.0%} ({v['records']})" for v in shown.values()],
        )
    )
    figure.update_layout(
        title="What would fix the failing calls? (share each lever would remove)",
        xaxis_tickformat=".0%",
        yaxis={"autorange": "reversed"},
        height=120 + 45 * len(shown),
        margin={"l": 420},
    )
    return figure


def _weekly_chart(report: dict[str, Any]):
    import plotly.graph_objects as go

    weekly = report["failures"].get("by_week") or []
    if not weekly:
        return None
    frame = pl.DataFrame(weekly)
    top = (
        frame.filter(pl.col("detector") != "any failure")
        .group_by("detector")
        .agg(pl.col("failures").sum())
        .sort("failures", descending=True)
        .head(WEEKLY_DETECTORS)["detector"]
        .to_list()
    )
    figure = go.Figure()
    for detector in ["any failure", *top]:
        mine = frame.filter(pl.col("detector") == detector)
        if mine.height == 0:
            continue
        rates = mine["rate"].to_list()
        figure.add_trace(
            go.Scatter(
                x=mine["week"].to_list(),
                y=rates,
                mode="lines+markers",
                name=detector,
                error_y=_error_bars(rates, mine["ci"].to_list()),
            )
        )
    figure.update_layout(
        title=f"Are failures going down? Share of calls failing, by week (95% intervals; "
        f"the {len(top)} detectors that fail most)",
        yaxis_tickformat=".0%",
        xaxis_title="week starting",
        height=420,
    )
    return figure


def _versions_chart(report: dict[str, Any]):
    import plotly.graph_objects as go

    versions = report["failures"]["by_prompt_version"]
    if not versions:
        return None
    intervals = {
        (task, v["prompt_version"]): v["ci"]
        for task, verdict in report["failures"]["verdicts"].items()
        for v in verdict.get("versions", [])
    }
    cis = [intervals.get((v["task"] or "(no task)", v["prompt_version"])) for v in versions]
    rates = [v["failure_rate"] for v in versions]
    figure = go.Figure(
        go.Bar(
            x=[f"{v['task']} / {v['prompt_version']}" for v in versions],
            y=rates,
            text=[f"{r:.1%}" for r in rates],
            error_y=_error_bars(rates, cis),
        )
    )
    figure.update_layout(
        title="Has prompting plateaued? Share of calls failing per prompt version (95% intervals)",
        yaxis_tickformat=".0%",
        height=380,
    )
    return figure


def _cost_chart(report: dict[str, Any]):
    import plotly.graph_objects as go

    per_million = report["cost"].get("per_million_calls")
    if not per_million:
        return None
    today, tuned = per_million["today"], per_million["fine_tuned_short_prompt"]
    kinds = ["prompt_tokens", "completion_tokens"]
    figure = go.Figure(
        [
            go.Bar(name="today", x=kinds, y=[today[k] for k in kinds]),
            go.Bar(name="fine-tuned, short prompt", x=kinds, y=[tuned[k] for k in kinds]),
        ]
    )
    figure.update_layout(
        title="What would a fine-tune save? Tokens per million calls",
        barmode="group",
        height=360,
    )
    return figure


def _latency_chart(report: dict[str, Any]):
    import plotly.graph_objects as go

    points = report.get("_latency_points") or []
    if not points:
        return None
    fit = report["cost"].get("latency_fit")
    xs = [p["prompt_tokens"] for p in points]
    figure = go.Figure(
        go.Scatter(
            x=xs, y=[p["latency_ms"] for p in points], mode="markers", name="calls", opacity=0.4
        )
    )
    if fit:
        line_x = [min(xs), max(xs)]
        # with completion tokens in the fit, the line is drawn at their mean
        base = fit["intercept_ms"] + fit.get("ms_per_completion_token", 0) * fit.get(
            "mean_completion_tokens", 0
        )
        figure.add_trace(
            go.Scatter(
                x=line_x,
                y=[base + fit["ms_per_1k_prompt_tokens"] * v / 1000 for v in line_x],
                mode="lines",
                name=f"fit: {fit['ms_per_1k_prompt_tokens']} ms per 1k prompt tokens",
            )
        )
    what = fit["fitted"] if fit else "latency against prompt length"
    figure.update_layout(
        title=f"How much latency would a shorter prompt save? Fitted: {what}",
        xaxis_title="prompt tokens",
        yaxis_title="ms",
        height=380,
    )
    return figure


def _compare_chart(compare: dict[str, Any]):
    import plotly.graph_objects as go

    rows = {**{f"triage: {k}": v for k, v in compare["by_triage"].items()}}
    rows |= {f"detector: {k}": v for k, v in compare["by_detector"].items()}
    if not rows:
        return None
    names = list(rows)
    figure = go.Figure()
    for side in ("a", "b"):
        rates = [rows[n][side]["rate"] for n in names]
        figure.add_trace(
            go.Bar(
                name=f"{side.upper()}: {compare[side]['name']}",
                x=names,
                y=rates,
                error_y=_error_bars(rates, [rows[n][side]["ci"] for n in names]),
            )
        )
    figure.update_layout(
        title="Did B fix what broke? Share of calls failing, A against B (95% intervals)",
        barmode="group",
        yaxis_tickformat=".0%",
        height=420,
    )
    return figure


def _section(title: str, text: str, figure) -> str:
    chart = figure.to_html(full_html=False, include_plotlyjs=False) if figure is not None else ""
    return f"<section><h2>{html.escape(title)}</h2>{text}{chart}</section>"


def render_html(report: dict[str, Any]) -> str:
    """One self-contained HTML file (plotly.js inline): each section a question, its answer as
    a table or a verdict, and its chart."""
    from plotly.offline import get_plotlyjs

    from curate.report.compare import format_p

    sections = []
    triage_rows = []
    for name, t in report["triage"].items():
        if t["records"]:
            example = t["examples"][0] if t["examples"] else None
            shown = f"{example['detector']}: {example['evidence'][:100]}" if example else ""
            triage_rows.append([name, t["records"], f"{t['share']:.0%}", t["lever"], shown])
    sections.append(
        _section(
            "What would fix the failing calls?",
            _table_html(["triage", "failing calls", "share", "lever", "for example"], triage_rows)
            if triage_rows
            else "<p>No failing calls.</p>",
            _levers_chart(report),
        )
    )
    if "compare" in report:
        c = report["compare"]
        rows = []
        groups = [("any failure", {"": c["any_failure"]})]
        groups += [("triage", c["by_triage"]), ("detector", c["by_detector"])]
        groups += [("edge case", c["by_edge_case"])]
        for group, items in groups:
            for name, r in items.items():
                ci = r["difference_ci"]
                p = r["paired"]["p_value"]
                rows.append(
                    [
                        f"{group} {name}".strip(),
                        _pct(r["a"]["rate"]),
                        _pct(r["b"]["rate"]),
                        "-" if ci is None else f"{ci[0] * 100:+.1f} to {ci[1] * 100:+.1f} pts",
                        f"{r['paired']['only_a_failed']} / {r['paired']['only_b_failed']} "
                        f"of {r['paired']['inputs']}",
                        format_p(p),
                        r["verdict"],
                    ]
                )
        header = ["failure", "A", "B", "B - A (95%)", "paired: only A / only B", "p", "verdict"]
        intro = (
            f"<p>A = {html.escape(c['a']['name'])} ({c['a']['calls']:,} calls), "
            f"B = {html.escape(c['b']['name'])} ({c['b']['calls']:,} calls).</p>"
        )
        sections.append(
            _section("Did B fix what broke?", intro + _table_html(header, rows), _compare_chart(c))
        )
    verdicts = "".join(
        f"<li><b>{html.escape(t)}</b>: {html.escape(v['verdict'])} ({html.escape(v['why'])})</li>"
        for t, v in report["failures"]["verdicts"].items()
    )
    sections.append(
        _section("Has prompting plateaued?", f"<ul>{verdicts}</ul>", _versions_chart(report))
    )
    sections.append(_section("Are failures going down, week by week?", "", _weekly_chart(report)))
    judged = [
        [
            task,
            j["model"],
            j["records"],
            _pct(j["accuracy"]),
            "-" if j["kappa"] is None else f"{j['kappa']} [{j['kappa_ci'][0]}, {j['kappa_ci'][1]}]",
            "none" if j["threshold"] is None else f"score >= {j['threshold']}",
        ]
        for task, j in (report.get("judge") or {}).items()
    ]
    if judged:
        header = ["task", "judge", "records", "agrees with people", "kappa (95%)", "could label"]
        sections.append(
            _section("Could the judge label the rest?", _table_html(header, judged), None)
        )
    audits = [
        [task, a["records"], _pct(a["agreement"]), "-" if a["kappa"] is None else a["kappa"]]
        for task, a in (report.get("reference_audit") or {}).items()
        if a.get("records")
    ]
    if audits:
        header = ["task", "audited records", "people agree with the reference", "kappa"]
        sections.append(_section("Is the gold data gold?", _table_html(header, audits), None))
    ready = report["readiness"]
    missing = "".join(f"<li>{html.escape(m)}</li>" for m in ready["missing"])
    sections.append(
        _section(
            "Is the training set ready?",
            f"<p>{ready['labelled']} labelled (target {ready['target']} per task). "
            + (f"Missing:</p><ul>{missing}</ul>" if missing else "Nothing is missing.</p>"),
            None,
        )
    )
    cost = report["cost"]
    per_million = cost.get("per_million_calls")
    cost_text = "<p>Token usage is not in these logs.</p>"
    if per_million:
        today, tuned = per_million["today"], per_million["fine_tuned_short_prompt"]
        rows = [
            ["prompt tokens", f"{today['prompt_tokens']:,}", f"{tuned['prompt_tokens']:,}"],
            [
                "completion tokens",
                f"{today['completion_tokens']:,}",
                f"{tuned['completion_tokens']:,}",
            ],
        ]
        if "cost" in today:
            rows.append(["cost", f"{today['cost']:,.2f}", f"{tuned['cost']:,.2f}"])
        share = cost.get("system_prompt_share")
        cost_text = (
            f"<p>{cost['prompt_tokens_per_call']} prompt tokens per call"
            + (f", of which the system prompt takes {share:.0%}" if share is not None else "")
            + ". Per million calls:</p>"
            + _table_html(["", "today", "fine-tuned, short prompt"], rows)
        )
    sections.append(_section("What would a fine-tune save?", cost_text, _cost_chart(report)))
    latency = _latency_chart(report)
    if latency is not None:
        fit = cost.get("latency_fit")
        text = (
            f"<p>{fit['ms_per_1k_prompt_tokens']} ms per 1,000 prompt tokens; the short prompt "
            f"would save about {fit['saved_ms_per_call_with_short_prompt']} ms per call.</p>"
            if fit
            else ""
        )
        sections.append(_section("How much latency would a shorter prompt save?", text, latency))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report_notes(report))
    if notes:
        sections.append(f"<section><h2>Notes on these logs</h2><ul>{notes}</ul></section>")
    body = "\n".join(sections)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>curate report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ddd;padding:.3em .6em;
text-align:left}}th{{background:#f6f6f6}}section{{margin-bottom:2.5em}}</style>
<script>{get_plotlyjs()}</script></head>
<body>
<h1>Should we fine-tune yet?</h1>
<p>{report["records"]:,} logged calls.</p>
{body}
</body></html>
"""


def write_html(path: Path, report: dict[str, Any]) -> None:
    """The report as one self-contained HTML file at `path`; its folder is made when missing."""
    from curate.core.errors import ConfigError
    from curate.core.workspace import atomic_write_bytes

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, render_html(report).encode())
    except OSError as exc:
        raise ConfigError(f"--html {path}: cannot be written ({exc.strerror or exc})") from None


def report_notes(report: dict[str, Any]) -> list[str]:
    """What each section could not say, and why (the logs lacked it), and what a reader of
    the figures should know (calls that hit the token limit after a complete answer)."""
    notes = report["failures"].get("notes", []) + report["cost"].get("notes", [])
    return notes + report.get("notes", [])


def public(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the chart-only data."""
    return {k: v for k, v in report.items() if not k.startswith("_")}
