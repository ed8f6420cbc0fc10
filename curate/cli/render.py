"""What the `curate` command prints for people: one function per command's result.

The commands (curate/cli/stages.py, workspace.py, queue.py, argilla.py) parse, call the library,
and hand the result here, or print it as JSON with --json. Every text goes through a console that
neutralizes control characters (curate.core.text.printable): logged content never reaches the
terminal as escape sequences.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click


def make_console(json_mode: bool = False):
    from rich.console import Console

    from curate.core.text import printable

    class SafeConsole(Console):
        """Every text it shows (tables and panels included) has its control characters
        neutralized: logged content never reaches the terminal as escape sequences."""

        def render_str(self, text: str, **kwargs: Any):
            return super().render_str(printable(text), **kwargs)

    # With --json, stdout carries only the JSON object; everything for people goes to stderr.
    return SafeConsole(stderr=True) if json_mode else SafeConsole()


def emit_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def progress(console, disable: bool):
    """A context manager giving a progress callback (name, advance, total) drawn with rich."""
    import contextlib

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    @contextlib.contextmanager
    def manager():
        if disable:
            yield lambda name, n, total: None
            return
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
        )
        tasks: dict[str, Any] = {}
        with Progress(*columns, console=console, transient=True) as progress:

            def advance(name: str, n: int, total: int) -> None:
                if name not in tasks:
                    tasks[name] = progress.add_task(name, total=total)
                progress.advance(tasks[name], n)

            yield advance

    return manager()


MAX_SOURCE_ROWS = 20


def ingest(console, result, workspace) -> None:
    from rich.markup import escape
    from rich.table import Table

    where = "" if result.engine.startswith("local") else f", on {result.engine}"
    table = Table(title=f"ingest: {len(result.sources)} files{where}", show_lines=False)
    for column in ("source", "format", "ingested", "duplicates", "quarantined", "skipped"):
        table.add_column(column, justify="right" if column not in ("source", "format") else "left")
    # many files: the first ones and those with quarantined rows; --json lists every one
    shown, hidden_bad = result.sources, 0
    if len(shown) > MAX_SOURCE_ROWS:
        bad = [s for s in shown[MAX_SOURCE_ROWS // 2 :] if s.quarantined]
        shown = shown[: MAX_SOURCE_ROWS // 2] + bad[: MAX_SOURCE_ROWS // 2]
        hidden_bad = max(0, len(bad) - MAX_SOURCE_ROWS // 2)
    for s in shown:
        skipped = sum(s.skipped.values())
        note = f"{s.requests} requests" if s.requests else ""
        table.add_row(
            Path(s.path).name,
            s.format,
            note or str(s.ingested),
            str(s.duplicates),
            str(s.quarantined),
            str(skipped),
        )
    if len(shown) < len(result.sources):
        more = len(result.sources) - len(shown)
        which = (
            f"{hidden_bad} with quarantined rows" if hidden_bad else "none with quarantined rows"
        )
        table.caption = f"and {more} more files, {which} (--json lists all)"
    console.print(table)
    console.print(
        f"[bold]{result.ingested}[/] records added, {result.duplicates} duplicates not added, "
        f"{result.quarantined} rows quarantined."
    )
    for name, counts in (("task", result.by_task), ("model", result.by_model)):
        if counts:
            parts = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
            console.print(f"  by {name}: {parts}")
    for reason, n in result.skipped.items():
        console.print(f"  skipped {n} {escape(reason)}")
    if result.references:
        r = result.references
        console.print(f"  references: {r['matched']} of {r['given']} matched a record")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    if result.quarantined:
        console.print(
            f"  see the quarantined rows: curate quarantine  (workspace {workspace.root})"
        )
    if result.duplicates and not result.ingested:
        console.print("  nothing new: every record was already in the workspace")


def detect(console, result) -> None:
    from rich.markup import escape
    from rich.table import Table

    if result.records == 0:
        console.print("no records in the workspace yet: run `curate ingest LOGS...` first")
        return

    where = "" if result.engine.startswith("local") else f", on {result.engine}"
    table = Table(title=f"detect: {result.records} records{where}")
    for column in ("detector", "severity", "failing", "checked", "rate"):
        table.add_column(column, justify="left" if column in ("detector", "severity") else "right")
    for name, d in sorted(result.detectors.items(), key=lambda kv: -kv[1]["count"]):
        rate = "n/a" if d["rate"] is None else f"{d['rate']:.1%}"
        table.add_row(name, d["severity"], str(d["count"]), str(d["checked"]), rate)
    console.print(table)
    share = result.failing_records / result.records if result.records else 0
    console.print(
        f"[bold]{result.failing_records}[/] of {result.records} records ({share:.1%}) have at "
        f"least one finding; {result.findings} findings in all."
    )
    if result.failing_records:
        levers = Table(title="what would fix the failing records (each under its most basic cause)")
        for column in ("triage", "records", "share", "lever"):
            levers.add_column(column, justify="right" if column in ("records", "share") else "left")
        for name, t in result.triage.items():
            if t["records"]:
                levers.add_row(name, str(t["records"]), f"{t['share']:.0%}", t["lever"])
        console.print(levers)
    for title, groups in (
        ("task", result.by_task),
        ("model", result.by_model),
        ("prompt_version", result.by_prompt_version),
    ):
        breakdown = Table(title=f"by {title}")
        for column in (title, "records", "failing", "rate", "top detectors"):
            breakdown.add_column(
                column, justify="right" if column in ("records", "failing", "rate") else "left"
            )
        for key, g in groups.items():
            top = ", ".join(f"{d} {n}" for d, n in list(g["detectors"].items())[:3])
            breakdown.add_row(
                key, str(g["records"]), str(g["failing_records"]), f"{g['failure_rate']:.1%}", top
            )
        console.print(breakdown)
    for item in result.not_applicable:
        console.print(
            f"  [dim]{item['detector']} not run on task {item['task']!r} "
            f"({item['records']} records): {escape(item['reason'])}[/]"
        )
    for note in result.notes:
        console.print(f"note: {escape(note)}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    console.print(escape("  read them: curate failures [--detector NAME]"))


def balance(console, result) -> None:
    from rich.markup import escape
    from rich.table import Table

    for name, summary in result.tasks.items():
        console.print(
            f"[bold]{name}[/]: chose {summary['selected']} of {summary['pool']} records "
            f"({summary['failures_selected']} failures, {summary['controls_selected']} controls); "
            f"{summary['clusters']} near-duplicate clusters"
        )
        for dimension in ("class", "failure_type", "edge_case"):
            table = Table(title=f"{name} by {dimension}")
            for column in (dimension, "before", "after"):
                table.add_column(column, justify="left" if column == dimension else "right")
            before, after = summary["before"][dimension], summary["after"][dimension]
            for key in before:
                table.add_row(escape(key), str(before[key]), str(after.get(key, 0)))
            console.print(table)
        for line in summary["shortfalls"]:
            console.print(f"  [yellow]could not fill:[/] {escape(line)}")
        for reason, n in summary["left_out"].items():
            if n:
                console.print(f"  left out {n}: {escape(reason)}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    console.print("  next: curate queue push (sends the candidates to Argilla for labelling)")


def stack(console, status: dict) -> None:
    from rich.table import Table

    table = Table(title=f"argilla stack at {status['url']}")
    for column in ("component", "pid", "running", "answers"):
        table.add_column(column)
    for component in ("opensearch", "redis", "argilla", "worker"):
        part = status[component]
        table.add_row(
            component, str(part["pid"] or "-"), str(part["running"]), str(part["healthy"])
        )
    console.print(table)
    if status["healthy"]:
        console.print(
            f"label in the browser: {status['url']}  (user {status['username']}, "
            f"password {status['password']})"
        )


def init(out, result: dict[str, Any]) -> None:
    out.print(
        f"{'wrote' if result['config_written'] else 'kept existing'} {result['config']}\n"
        f"{'created' if result['workspace_created'] else 'found existing'} workspace "
        f"{result['workspace']}\n"
        "next: describe your tasks in curate.toml, then `curate ingest LOGS... --task NAME`"
    )


def failures(out, total: int, rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.panel import Panel

    from curate.core.text import printable

    for row in rows:
        output = row["output"] if row["output"] is not None else "(none)"
        body = (
            f"[bold]evidence[/]  {escape(row['evidence'])}\n"
            f"[bold]input[/]     {escape(row['input'] or '(none)')}\n"
            f"[bold]output[/]    {escape(output)}"
        )
        if row.get("reference") is not None:
            body += f"\n[bold]reference[/] {escape(row['reference'])}"
        title = f"{row['detector']} · {row['severity']} · task {row['task']} · {row['record_id']}"
        title = escape(printable(title))  # a panel's title is not rendered through the console
        out.print(Panel(body, title=title, title_align="left"))
    out.print(f"showing {len(rows)} of {total} findings")


def detectors(out, rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape("detectors (settings go under [detectors.NAME] in curate.toml)"))
    for column in ("name", "finds", "config keys (default)"):
        table.add_column(column, overflow="fold")
    for row in rows:
        keys = "\n".join(f"{k} = {o['default']!r}: {o['help']}" for k, o in row["options"].items())
        table.add_row(row["name"], escape(row["description"]), escape(keys or "-"))
    out.print(table)


def export(out, result) -> None:
    held = result.written.get("test")
    out.print(
        f"wrote {result.written.get('train', 0)} train and {result.written.get('validation', 0)} "
        "validation"
        + (f" and {held} held-out test (eval/: the promptfoo suite)" if held is not None else "")
        + f" examples to {result.folder}"
    )
    if result.template:
        for split, t in result.template["splits"].items():
            out.print(
                f"  {split}: {t['tokens']} tokens as the template renders them, longest {t['max']}"
            )
    for reason, n in sorted(result.excluded.items()):
        out.print(f"  left out {n}: {reason}")
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {warning}")


def run(out, result, url: str) -> None:
    from curate.stack.local import running_credentials

    if "queue push" in result.stages and not result.failed:
        account = running_credentials()
        who = (
            f" (local stack: user {account['username']}, password {account['password']})"
            if account and not os.environ.get("ARGILLA_API_URL")
            else ""
        )
        out.print(f"label at {url}{who}")
        out.print("after labelling, run the same command again: `curate run` pulls and exports")


def status(out, data: dict[str, Any]) -> None:
    out.print(f"workspace [bold]{data['workspace']}[/]")
    out.print(
        f"  {data['records']} records, {data['quarantined']} quarantined rows, "
        f"{len(data['sources'])} sources ingested"
    )
    for key in ("by_format", "by_task", "by_model"):
        if data[key]:
            parts = ", ".join(f"{k}: {v}" for k, v in data[key].items())
            out.print(f"  {key.replace('_', ' ')}: {parts}")
    for pull in data.get("pulls", []):
        from rich.markup import escape

        state = "" if pull["complete"] else " [yellow](cut off: `curate pull` resumes)[/]"
        store = " ".join(str(x) for x in (pull["kind"], pull["project"]) if x)
        where = escape(f"{store} at {pull['base_url']}")
        out.print(
            f"  pull {escape(str(pull['name']))} ({where}): last {pull['finished_at']}, "
            f"{pull['ingested']} added{state}"
        )


def quarantine(out, total: int, rows: list[dict[str, Any]]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"quarantine ({total} rows; showing {len(rows)})")
    for column in ("source", "line", "reason", "raw"):
        table.add_column(column, overflow="fold")
    for row in rows:
        raw = (row["raw"] or "")[:120]
        table.add_row(escape(row["source"]), str(row["line"]), escape(row["reason"]), escape(raw))
    out.print(table)


def formats(out, data: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="log formats")
    table.add_column("name")
    table.add_column("detected")
    table.add_column("expects", overflow="fold")
    for row in data["formats"]:
        table.add_row(
            row["name"], "auto" if row["detected"] else "--map / --format", escape(row["expects"])
        )
    out.print(table)
    exports = Table(title="export formats (curate export --format)")
    exports.add_column("name")
    exports.add_column("writes", overflow="fold")
    for row in data["export_formats"]:
        exports.add_row(row["name"], escape(row["writes"]))
    out.print(exports)


def suggested(out, result) -> None:
    cost = f", cost {result.cost:.4f}" if result.cost is not None else ""
    out.print(
        f"judge {result.model}: {result.candidates} candidates, {result.cached} answered before "
        f"(cached), {result.asked} asked, {result.answered} answered, {result.failed} failed, "
        f"{result.over_budget} over budget; {result.retries} retries; "
        f"{result.prompt_tokens:,} prompt + {result.completion_tokens:,} completion tokens{cost}"
    )
    for error in result.errors:
        out.print(f"  [yellow]failed:[/] {error}")
    out.print("  next: curate queue push (the judge's answers are shown as suggestions)")


def redaction(out, data: dict[str, Any]) -> None:
    from rich.markup import escape

    found_by = "patterns and spaCy NER" if data["ner"] else "patterns only (no spaCy model)"
    out.print(f"detection: {found_by}")
    for task, t in data["tasks"].items():
        if t["policy"] is None:
            out.print(f"{task}: no \\[tasks.{task}.redact] policy: nothing is replaced")
            continue
        counts = ", ".join(f"{e} {n}" for e, n in t["counts"].items()) or "nothing found"
        out.print(
            f"[bold]{task}[/]: {t['records_with_personal_data']} of {t['records']} candidates "
            f"hold personal data; {counts} ({t['policy']['action']}, at "
            f"{' and '.join(t['policy']['where'])})"
        )
        for example in t["examples"]:
            out.print(f"  {example['record_id']} {example['field']}:")
            out.print(f"    before: {escape(example['before'][:300])}")
            out.print(f"    after:  {escape(example['after'][:300])}")


def doctor(out, result) -> None:
    from rich.markup import escape

    if not result.damaged:
        out.print(f"{result.checked} files checked in {escape(result.workspace)}: all read")
        return
    out.print(f"{len(result.damaged)} of {result.checked} files are damaged:")
    for damage in result.damaged:
        out.print(f"  {escape(damage.path)}: {escape(damage.problem)}")
    for moved in result.moved:
        out.print(f"  moved aside: {escape(moved)}")
    if result.manifest_rebuilt:
        out.print("  the manifest was replaced by an empty one; the records are kept")
    if result.moved:
        out.print("then re-run the stages that wrote them (curate run, or the command itself)")
    else:
        out.print("move them aside with: curate doctor --fix")
