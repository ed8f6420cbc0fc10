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
import json
from typing import Any

import numpy as np
import polars as pl

from curate.config import Config
from curate.project import Project
from curate.workspace import Workspace

# A prompt change whose effect on the failure rate is, with 95% confidence, within this many
# points either way has plateaued; one that may be larger, but is not shown to be, is unclear.
PLATEAU_POINTS = 0.02
CONFIDENCE = 0.95
DEFAULT_TARGET = 1000
SHORT_PROMPT_TOKENS = 60  # a short system prompt after fine-tuning, unless [report] says
MIN_PER_EDGE_CASE = 10


def _table(workspace: Workspace, name: str) -> pl.DataFrame | None:
    return workspace.read_table(name) if workspace.has_table(name) else None


def failure_trends(records: pl.DataFrame, findings: pl.DataFrame) -> dict[str, Any]:
    """Failure rates per detector by day, and per task and prompt_version with a verdict."""
    failing = findings.select("record_id", "detector").unique()
    any_failure = failing.select("record_id").unique().with_columns(pl.lit(True).alias("_failed"))
    base = (
        records.select("record_id", "task", "prompt_version", "timestamp")
        .join(any_failure, on="record_id", how="left")
        .with_columns(
            pl.col("_failed").fill_null(False), pl.col("timestamp").dt.date().alias("day")
        )
    )
    days = base.drop_nulls("day").group_by("day").agg(pl.len().alias("records")).sort("day")
    by_day = (
        failing.join(base.select("record_id", "day"), on="record_id")
        .group_by("day", "detector")
        .len()
        .join(days, on="day")
        .with_columns((pl.col("len") / pl.col("records")).round(4).alias("rate"))
        .sort("day", "detector")
    )
    versions = (
        base.group_by("task", "prompt_version")
        .agg(
            pl.len().alias("records"),
            pl.col("_failed").sum().alias("failures"),
            pl.col("_failed").mean().round(4).alias("failure_rate"),
            pl.col("timestamp").min().alias("first_seen"),
        )
        .sort("task", "first_seen", nulls_last=True)
    )
    per_detector = (
        failing.join(base.select("record_id", "task", "prompt_version"), on="record_id")
        .group_by("task", "prompt_version", "detector")
        .len()
    )
    verdicts = {}
    for task in versions["task"].unique(maintain_order=True).to_list():
        mine = versions.filter(pl.col("task").eq_missing(task))
        verdicts[task or "(no task)"] = plateau_verdict(
            mine["prompt_version"].to_list(), mine["records"].to_list(), mine["failures"].to_list()
        )
    undated = int(base["day"].null_count())
    notes = []
    if undated:
        notes.append(
            "no timestamps in these logs: no daily trend"
            if undated == base.height
            else f"{undated} of {base.height} calls have no timestamp: left out of the daily trend"
        )
    return {
        "notes": notes,
        "by_day": by_day.with_columns(pl.col("day").cast(pl.String)).to_dicts(),
        "by_prompt_version": [
            {
                **row,
                "first_seen": str(row["first_seen"]),
                "detectors": {
                    d: n
                    for _, _, d, n in per_detector.filter(
                        pl.col("task").eq_missing(row["task"])
                        & pl.col("prompt_version").eq_missing(row["prompt_version"])
                    ).iter_rows()
                },
            }
            for row in versions.to_dicts()
        ],
        "verdicts": verdicts,
    }


def plateau_verdict(names: list[str], calls: list[int], failures: list[int]) -> dict[str, Any]:
    """Has prompting plateaued? Every prompt version in order (first seen first), each failure
    rate with its Wilson interval; the verdict is on the latest change, from the interval of the
    difference between the last two versions (Newcombe's, from Wilson's):

    - entirely below -PLATEAU_POINTS: "improving" (the latest prompt fails less);
    - entirely above +PLATEAU_POINTS: "worse";
    - entirely within +-PLATEAU_POINTS: "plateaued" (no change of that size, with confidence);
    - otherwise: "not enough calls to tell" (a change that size can be neither shown nor ruled
      out), with how far the interval reaches.
    """
    from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

    alpha = 1 - CONFIDENCE
    table = []
    for name, n, k in zip(names, calls, failures, strict=True):
        low, high = proportion_confint(k, n, alpha=alpha, method="wilson")
        table.append(
            {
                "prompt_version": name,
                "calls": n,
                "failures": k,
                "rate": round(k / n, 4),
                "ci": [round(float(low), 4), round(float(high), 4)],
            }
        )
    out: dict[str, Any] = {"versions": table, "confidence": CONFIDENCE, "margin": PLATEAU_POINTS}
    if len(table) < 2:
        return out | {"verdict": "no trend yet", "why": "only one prompt version in the logs"}
    before, after = table[-2], table[-1]
    low, high = confint_proportions_2indep(
        after["failures"], after["calls"], before["failures"], before["calls"],
        method="newcomb", compare="diff", alpha=alpha,
    )  # fmt: skip
    low, high = float(low), float(high)
    difference = after["rate"] - before["rate"]
    if high < -PLATEAU_POINTS:
        verdict = "improving: the latest prompt fails less; prompting still helps"
    elif low > PLATEAU_POINTS:
        verdict = "worse: the latest prompt fails more"
    elif low >= -PLATEAU_POINTS and high <= PLATEAU_POINTS:
        verdict = "plateaued: fine-tune on the failures"
    else:
        verdict = "not enough calls to tell"
    why = (
        f"{before['prompt_version']} failed {before['rate']:.1%} of {before['calls']} calls, "
        f"{after['prompt_version']} {after['rate']:.1%} of {after['calls']}: a change of "
        f"{difference * 100:+.1f} points, {CONFIDENCE:.0%} interval {low * 100:+.1f} to "
        f"{high * 100:+.1f} (plateau: within +-{PLATEAU_POINTS * 100:.0f})"
    )
    return out | {
        "verdict": verdict,
        "why": why,
        "latest": after["prompt_version"],
        "latest_failure_rate": after["rate"],
        "change": {"difference": round(difference, 4), "ci": [round(low, 4), round(high, 4)]},
    }


def readiness(workspace: Workspace, target: int) -> dict[str, Any]:
    """Per task: labelled examples against the target, per class and edge case; what is missing."""
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
                & ~pl.col("tag").is_in(["exact", "missing_both", "different"])
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
    import tiktoken

    from curate.export import TOKENIZER

    section = config.section("report")
    prices = section.get("prices", {})
    short = int(section.get("short_prompt_tokens", SHORT_PROMPT_TOKENS))
    encoding = tiktoken.get_encoding(TOKENIZER)
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
    from curate.triage import CLASSES, LEVERS, record_triage

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
    and after of curate/compare.py too."""
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
    target = int(config.section("report").get("target", DEFAULT_TARGET))
    report: dict[str, Any] = {}
    if compare_with is not None:
        from curate.compare import compare

        report["compare"] = compare(records, findings, _table(workspace, "tags"), *compare_with)
    return report | {
        "records": records.height,
        "triage": levers(findings),
        "failures": failure_trends(records, findings),
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


def render_html(report: dict[str, Any]) -> str:
    """One self-contained HTML file: plotly.js inline, every chart drawn by plotly."""
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    charts = []
    by_day = pl.DataFrame(report["failures"]["by_day"]) if report["failures"]["by_day"] else None
    if by_day is not None and by_day.height:
        figure = go.Figure()
        for detector in sorted(by_day["detector"].unique()):
            mine = by_day.filter(pl.col("detector") == detector)
            figure.add_trace(
                go.Scatter(
                    x=mine["day"].to_list(),
                    y=mine["rate"].to_list(),
                    mode="lines+markers",
                    name=detector,
                )
            )
        figure.update_layout(
            title="Failure rate per detector, by day", yaxis_tickformat=".0%", height=420
        )
        charts.append(figure)
    versions = report["failures"]["by_prompt_version"]
    if versions:
        intervals = {
            (task, v["prompt_version"]): v["ci"]
            for task, verdict in report["failures"]["verdicts"].items()
            for v in verdict.get("versions", [])
        }
        cis = [intervals.get((v["task"] or "(no task)", v["prompt_version"])) for v in versions]
        figure = go.Figure(
            go.Bar(
                x=[f"{v['task']} / {v['prompt_version']}" for v in versions],
                y=[v["failure_rate"] for v in versions],
                text=[f"{v['failure_rate']:.1%}" for v in versions],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [
                        ci[1] - v["failure_rate"] if ci else 0
                        for ci, v in zip(cis, versions, strict=True)
                    ],
                    "arrayminus": [
                        v["failure_rate"] - ci[0] if ci else 0
                        for ci, v in zip(cis, versions, strict=True)
                    ],
                },
            )
        )
        figure.update_layout(
            title="Share of calls with a failure, per prompt version (95% Wilson intervals)",
            yaxis_tickformat=".0%",
            height=380,
        )
        charts.append(figure)
    points = report.get("_latency_points") or []
    fit = report["cost"].get("latency_fit")
    if points:
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
        figure.update_layout(
            title=f"Fitted: {fit['fitted']}" if fit else "Latency against prompt length",
            xaxis_title="prompt tokens",
            yaxis_title="ms",
            height=380,
        )
        charts.append(figure)
    body = "\n".join(f.to_html(full_html=False, include_plotlyjs=False) for f in charts)
    verdicts = "".join(
        f"<li><b>{html.escape(t)}</b>: {html.escape(v['verdict'])} ({html.escape(v['why'])})</li>"
        for t, v in report["failures"]["verdicts"].items()
    )
    ready = report["readiness"]
    missing = (
        "".join(f"<li>{html.escape(m)}</li>" for m in report["readiness"]["missing"])
        or "<li>nothing: ready</li>"
    )
    cost = html.escape(json.dumps({k: v for k, v in report["cost"].items()}, indent=2))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report_notes(report))
    notes = f"<h2>Not in these logs</h2><ul>{notes}</ul>" if notes else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>curate report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style>
<script>{get_plotlyjs()}</script></head>
<body>
<h1>Should we fine-tune yet?</h1>
<p>{report["records"]:,} logged calls.</p>
<h2>Has prompting plateaued?</h2><ul>{verdicts}</ul>
<h2>Is the training set ready?</h2>
<p>{ready["labelled"]} labelled (target {ready["target"]} per task). Missing:</p>
<ul>{missing}</ul>
{body}
<h2>The cost case</h2><pre>{cost}</pre>
{notes}
</body></html>
"""


def report_notes(report: dict[str, Any]) -> list[str]:
    """What each section could not say, and why (the logs lacked it)."""
    return report["failures"].get("notes", []) + report["cost"].get("notes", [])


def public(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the chart-only data."""
    return {k: v for k, v in report.items() if not k.startswith("_")}
