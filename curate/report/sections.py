"""The report as a list of questions, each answered from the report's numbers: sentences, a list,
a table and (in HTML) a chart. The terminal and the HTML file render this one list, so a section
added here appears in both.

To add a section: write the functions that read what it needs from `build_report`'s dict (each
returns nothing when the logs cannot answer) and add a `Section` to SECTIONS; for a chart, add a
function to html.py's CHARTS under the section's `chart` name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Report = dict[str, Any]


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]


def _nothing(report: Report) -> list[str]:
    return []


def _no_table(report: Report) -> Table | None:
    return None


@dataclass(frozen=True)
class Section:
    """One question of the report. `text`: sentences; `items`: a list; `table`: rows; `chart`:
    the name of its chart in html.py (HTML only). A section with none of them is left out."""

    question: str
    text: Callable[[Report], list[str]] = _nothing
    items: Callable[[Report], list[str]] = _nothing
    table: Callable[[Report], Table | None] = _no_table
    chart: str | None = None


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _levers(report: Report) -> Table | None:
    rows = []
    for name, t in report["triage"].items():
        if t["records"]:
            example = t["examples"][0] if t["examples"] else None
            shown = f"{example['detector']}: {example['evidence'][:100]}" if example else ""
            rows.append([name, str(t["records"]), f"{t['share']:.0%}", t["lever"], shown])
    header = ["triage", "failing calls", "share", "lever", "for example"]
    return Table(header, rows) if rows else None


def _no_failures(report: Report) -> list[str]:
    return [] if _levers(report) else ["No failing calls."]


def _side(s: dict[str, Any]) -> str:
    models = s.get("models") or []
    also = f": {', '.join(models)}" if len(models) > 1 else ""
    return f"{s['name']} ({s['kind']}{also}, {s['calls']:,} calls)"


def compare_sides(compare: dict[str, Any]) -> str:
    return f"A = {_side(compare['a'])}, B = {_side(compare['b'])}."


def _compared_sides(report: Report) -> list[str]:
    return [compare_sides(report["compare"])] if "compare" in report else []


def compare_table(compare: dict[str, Any]) -> Table:
    """A row per failure (any, triage class, detector, edge case): A's and B's rate, the
    difference with its interval, the paired counts, McNemar's p and the verdict."""
    from curate.report.compare import format_p

    groups = [("", {"any failure": compare["any_failure"]})]
    groups += [("", compare["by_triage"]), ("", compare["by_detector"])]
    groups += [("edge case ", compare["by_edge_case"])]
    rows = []
    for prefix, items in groups:
        for name, r in items.items():
            ci = r["difference_ci"]
            diff = f"{r['difference'] * 100:+.1f} pts" if r["difference"] is not None else "-"
            if ci:
                diff += f" [{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}]"
            paired = r["paired"]
            pair = (
                f"{paired['only_a_failed']} / {paired['only_b_failed']} of {paired['inputs']}"
                if paired["inputs"]
                else "no matched inputs"
            )
            rows.append(
                [
                    f"{prefix}{name}",
                    pct(r["a"]["rate"]),
                    pct(r["b"]["rate"]),
                    diff,
                    pair,
                    format_p(paired["p_value"]),
                    r["verdict"],
                ]
            )
    header = ["failure", "A", "B", "B - A (95%)", "paired: only A / only B", "p", "verdict"]
    return Table(header, rows)


def _compare(report: Report) -> Table | None:
    return compare_table(report["compare"]) if "compare" in report else None


def _compare_notes(report: Report) -> list[str]:
    return report["compare"].get("notes", []) if "compare" in report else []


def _verdicts(report: Report) -> list[str]:
    return [f"{t}: {v['verdict']} ({v['why']})" for t, v in report["failures"]["verdicts"].items()]


def _judge(report: Report) -> Table | None:
    rows = [
        [
            task,
            j["model"],
            str(j["records"]),
            pct(j["accuracy"]),
            "-" if j["kappa"] is None else f"{j['kappa']} [{j['kappa_ci'][0]}, {j['kappa_ci'][1]}]",
            "none" if j["threshold"] is None else f"score >= {j['threshold']}",
        ]
        for task, j in (report.get("judge") or {}).items()
    ]
    header = ["task", "judge", "records", "agrees with people", "kappa (95%)", "could label"]
    return Table(header, rows) if rows else None


def _references(report: Report) -> Table | None:
    rows = [
        [task, str(a["records"]), pct(a["agreement"]), "-" if a["kappa"] is None else a["kappa"]]
        for task, a in (report.get("reference_audit") or {}).items()
        if a.get("records")
    ]
    header = ["task", "audited records", "people agree with the reference", "kappa"]
    return Table(header, [[str(c) for c in row] for row in rows]) if rows else None


def _labels(report: Report) -> list[str]:
    out = []
    for task, s in (report.get("labels") or {}).items():
        a = s["agreement"]
        said = (
            f"{a['kappa_kind'].replace('_', ' ')} {a['kappa']} on {a['records']} records answered "
            "twice"
            if a.get("records") and a.get("kappa") is not None
            else "not measured (no record answered by two people)"
        )
        out.append(
            f"{task}: agreement on {s['question']}: {said}; {s['in_conflict']} records in "
            f"conflict, waiting for adjudication; {s['suspected']} suspected label errors "
            "(curate review lists them)."
        )
    return out


def _annotators(report: Report) -> Table | None:
    rows = []
    for task, s in (report.get("labels") or {}).items():
        for who, q in sorted(s["annotators"].items()):
            interval = q["kappa_interval"]
            kappa = "-" if q["kappa"] is None else str(q["kappa"])
            kappa += f" [{interval[0]}, {interval[1]}]" if interval else ""
            gold = (
                "-" if q["gold_accuracy"] is None else f"{pct(q['gold_accuracy'])} of {q['gold']}"
            )
            agree = pct(q["agreement"])
            pace = q.get("seconds_per_record")
            pace = "-" if pace is None else f"{pace:g}"
            row = [task, who, str(q["answers"]), pace, agree, kappa, gold, str(q["vote_weight"])]
            rows.append(row)
    header = ["task", "annotator", "answers", "s a record", "agrees with the others"]
    header += ["kappa (95%)", "gold accuracy", "vote weight"]
    return Table(header, rows) if rows else None


def _readiness(report: Report) -> list[str]:
    ready = report["readiness"]
    missing = "Missing:" if ready["missing"] else "Nothing is missing."
    return [f"{ready['labelled']} labelled (target {ready['target']} per task). {missing}"]


def _missing(report: Report) -> list[str]:
    return list(report["readiness"]["missing"])


def _cost(report: Report) -> list[str]:
    cost = report["cost"]
    if not cost.get("per_million_calls"):
        return ["Token usage is not in these logs."]
    share = cost.get("system_prompt_share")
    system = f", of which the system prompt takes {share:.0%}" if share is not None else ""
    return [f"{cost['prompt_tokens_per_call']} prompt tokens per call{system}. Per million calls:"]


def _cost_table(report: Report) -> Table | None:
    per_million = report["cost"].get("per_million_calls")
    if not per_million:
        return None
    today, tuned = per_million["today"], per_million["fine_tuned_short_prompt"]
    rows = [
        ["prompt tokens", f"{today['prompt_tokens']:,}", f"{tuned['prompt_tokens']:,}"],
        ["completion tokens", f"{today['completion_tokens']:,}", f"{tuned['completion_tokens']:,}"],
    ]
    if "cost" in today:
        rows.append(["cost", f"{today['cost']:,.2f}", f"{tuned['cost']:,.2f}"])
    return Table(["", "today", "fine-tuned, short prompt"], rows)


def _latency(report: Report) -> list[str]:
    fit = report["cost"].get("latency_fit")
    if not fit:
        return []
    return [
        f"{fit['ms_per_1k_prompt_tokens']} ms per 1,000 prompt tokens; the short prompt would "
        f"save about {fit['saved_ms_per_call_with_short_prompt']} ms per call."
    ]


def report_notes(report: Report) -> list[str]:
    """What each section could not say, and why (the logs lacked it), and what a reader of
    the figures should know (calls that hit the token limit after a complete answer)."""
    notes = report["failures"].get("notes", []) + report["cost"].get("notes", [])
    return notes + report.get("notes", [])


SECTIONS = [
    Section("What would fix the failing calls?", _no_failures, table=_levers, chart="levers"),
    Section(
        "Did B fix what broke?",
        _compared_sides,
        _compare_notes,
        table=_compare,
        chart="compare",
    ),
    Section("Has prompting plateaued?", items=_verdicts, chart="versions"),
    Section("Are failures going down, week by week?", chart="weekly"),
    Section("Could the judge label the rest?", table=_judge),
    Section("Is the gold data gold?", table=_references),
    Section("Can we trust the labels?", _labels, table=_annotators),
    Section("Is the training set ready?", _readiness, _missing),
    Section("What would a fine-tune save?", _cost, table=_cost_table, chart="cost"),
    Section("How much latency would a shorter prompt save?", _latency, chart="latency"),
    Section("Notes on these logs", items=report_notes),
]
