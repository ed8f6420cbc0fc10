"""The report as one self-contained HTML file: the sections of sections.py, each with its chart
(plotly, the library inlined)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import polars as pl

from curate.report.sections import SECTIONS, Section

WEEKLY_DETECTORS = 5  # the weekly chart shows any failure and the detectors that fail most


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


def _compared_chart(compare: dict[str, Any]):
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


def _compare_chart(report: dict[str, Any]):
    return _compared_chart(report["compare"]) if "compare" in report else None


CHARTS = {
    "levers": _levers_chart,
    "compare": _compare_chart,
    "versions": _versions_chart,
    "weekly": _weekly_chart,
    "cost": _cost_chart,
    "latency": _latency_chart,
}


def _section(section: Section, report: dict[str, Any]) -> str:
    text = "".join(f"<p>{html.escape(line)}</p>" for line in section.text(report))
    items = "".join(f"<li>{html.escape(item)}</li>" for item in section.items(report))
    table = section.table(report)
    figure = CHARTS[section.chart](report) if section.chart else None
    if not (text or items or table or figure):
        return ""
    return (
        f"<section><h2>{html.escape(section.question)}</h2>{text}"
        + (f"<ul>{items}</ul>" if items else "")
        + (_table_html(table.header, table.rows) if table else "")
        + (figure.to_html(full_html=False, include_plotlyjs=False) if figure is not None else "")
        + "</section>"
    )


def render_html(report: dict[str, Any]) -> str:
    """One self-contained HTML file (plotly.js inline): each section a question, its answer as
    sentences, a list or a table, and its chart."""
    from plotly.offline import get_plotlyjs

    body = "\n".join(filter(None, (_section(s, report) for s in SECTIONS)))
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
