"""The report: should we fine-tune yet, and on what? The answer is in the logs.

- Failure rates per detector over time and per prompt_version, with a plain verdict on whether
  prompting has plateaued (the trend across the latest prompt versions of each task).
- Readiness of the training set against a target (labelled examples, class balance, edge cases
  covered), and what is missing.
- The cost case (cost.py): tokens and cost per million calls today and with a short prompt
  after fine-tuning, and the latency a shorter prompt saves.
- Triage: the share of failing calls each lever would remove. With --compare, compare.py.

sections.py turns these numbers into the questions the terminal and html.py render.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.core.project import Project
from curate.core.workspace import Workspace
from curate.report.cost import cost_case, latency_points

# A prompt change whose effect on the failure rate is, with 95% confidence, within this share of
# the earlier rate either way (but never less than the floor, in rate points) has plateaued;
# `[report] plateau_margin` and `plateau_floor` change them.
PLATEAU_MARGIN = 0.10
PLATEAU_FLOOR = 0.001
DEFAULT_TARGET = 1000
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
    verdicts = _verdicts(versions, margin, floor)
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


def _verdicts(versions: pl.DataFrame, margin: float, floor: float) -> dict[str, Any]:
    """The plateau verdict of each task's prompt versions, per model where a task has several
    (a second model is no prompt change)."""
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
    return verdicts


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
        from curate.core.suspicion import label_summary

        report["labels"] = label_summary(workspace, project.tasks)
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
        "_latency_points": latency_points(records),
    }


def public(report: dict[str, Any]) -> dict[str, Any]:
    """The report without the chart-only data."""
    return {k: v for k, v in report.items() if not k.startswith("_")}
