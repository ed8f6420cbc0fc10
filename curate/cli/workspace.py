"""The commands that look into the workspace and what curate knows: status, doctor, quarantine,
failures, and the registered detectors and formats."""

from __future__ import annotations

import sys

import click

from curate.cli.options import COUNT, State, command, show

COMMANDS: list[click.Command] = []


@command(COMMANDS)
@click.option("--detector", "detector", metavar="NAME", help="Only this detector's findings.")
@click.option("--task", metavar="NAME", help="Only records of this task.")
@click.option("--limit", default=10, show_default=True, type=COUNT, help="How many to show.")
def failures(
    state: State, detector: str | None, task: str | None, limit: int, json_mode: bool
) -> None:
    """Show findings with the record's input, output and evidence, for a person to read."""
    from curate.cli import render
    from curate.detect.failures import list_failures

    total, rows = list_failures(state.workspace(), detector=detector, task=task, limit=limit)
    show(json_mode, {"total": total, "failures": rows}, render.failures, total, rows)


@command(COMMANDS, name="detectors", state=False)
def list_detectors(json_mode: bool) -> None:
    """List the registered detectors, what each finds, and its config keys."""
    from curate.cli import render
    from curate.detect.detectors import describe

    rows = describe()
    show(json_mode, {"detectors": rows}, render.detectors, rows)


@command(COMMANDS)
def status(state: State, json_mode: bool) -> None:
    """What the workspace holds: records by format, task and model; quarantine; sources."""
    from curate.cli import render
    from curate.core.status import workspace_status

    data = workspace_status(state.workspace())
    show(json_mode, data, render.status, data)


@command(COMMANDS)
@click.option("--fix", is_flag=True, help="Move the damaged files aside, into damaged/.")
def doctor(state: State, fix: bool, json_mode: bool) -> None:
    """Check that every file of the workspace reads: the manifest and each table part.

    A file cut short (a full disk, an interrupted copy) or overwritten is named with what is
    wrong. With --fix, damaged files are moved into the workspace's damaged/ folder (never
    deleted) and a damaged manifest is replaced by an empty one, so the rest stays usable;
    then re-run the stage that wrote them (ingest adds back only what is missing).

    \b
      curate doctor
      curate doctor --fix
    """
    from curate.cli import render
    from curate.core.doctor import find_damage, repair

    workspace = state.workspace()
    workspace.require()
    result = repair(workspace) if fix else find_damage(workspace)
    show(json_mode, result, render.doctor, result)
    if result.damaged and not fix:
        sys.exit(1)


@command(COMMANDS)
@click.option("--limit", default=20, show_default=True, type=COUNT, help="How many rows to show.")
def quarantine(state: State, limit: int, json_mode: bool) -> None:
    """Show the input rows that could not be read, with file, line and reason."""
    from curate.cli import render
    from curate.core.status import quarantine_rows

    total, rows = quarantine_rows(state.workspace(), limit)
    show(json_mode, {"quarantined": total, "rows": rows}, render.quarantine, total, rows)


@command(COMMANDS, state=False)
def formats(json_mode: bool) -> None:
    """List the log formats `curate ingest` reads (and what each expects), and the formats
    `curate export --format` writes. Plugins' formats are listed with curate's own."""
    from curate.cli import render
    from curate.export import exporters
    from curate.ingest.formats import describe

    data = {
        "formats": describe(),
        "export_formats": [
            {"name": e.name, "writes": e.description} for e in exporters.available().values()
        ],
    }
    show(json_mode, data, render.formats, data)
