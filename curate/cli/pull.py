"""`curate pull`: records straight from a trace store ([[pulls]] of curate.toml)."""

from __future__ import annotations

from typing import Any

import click

from curate.cli.options import State, command

COMMANDS: list[click.Command] = []


def _time(ctx, param, value):
    if value is None:
        return None
    from curate.core.errors import ConfigError
    from curate.ingest.pull.settings import parse_time

    try:
        return parse_time(value, f"--{param.name}")
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


@command(COMMANDS)
@click.argument("name", required=False)
@click.option(
    "--since",
    metavar="TIME",
    callback=_time,
    help="Backfill: items from this time (ISO 8601, e.g. 2026-11-01); the cursor stays put.",
)
@click.option(
    "--until",
    metavar="TIME",
    callback=_time,
    help="Backfill: items before this time (with or without --since).",
)
def pull(state: State, json_mode: bool, name: str | None, since, until) -> None:
    """Pull new model calls from Phoenix or Langfuse into records ([[pulls]] in curate.toml).

    \b
    Each pull fetches only what is new since its last one, page by page, through the same
    readers as exported files (a Phoenix span is read as OTel, a Langfuse trace as a Langfuse
    export): the same records, the same ids, unreadable items quarantined with their id.
    A pull cut off (Ctrl-C, kill, a network error) resumes after the last page it committed;
    pulling again adds nothing twice. NAME is a pull's name or kind (default: every pull).
    The API key comes from the environment variable the pull names (api_key_env).

    \b
    Example (curate.toml):
      [[pulls]]
      kind = "phoenix"
      base_url = "http://127.0.0.1:6006"
      project = "support-bot"
      api_key_env = "PHOENIX_API_KEY"
      task = "ticket_triage"
      [pulls.filter]
      span_kind = ["LLM"]

    \b
    Examples:
      curate pull                        every [[pulls]], from where each stopped
      curate pull langfuse --json        one of them, counts for scripts
      curate pull --since 2026-11-01 --until 2026-11-08   a backfill of one week
    """
    from curate.ingest.pull import pull as run_pull

    project = state.project()
    console = _console(json_mode)
    with console.status("pulling ...") as status:

        def progress(pull_name: str, items: int, pages: int) -> None:
            status.update(f"pull {pull_name}: {items:,} items in {pages:,} pages ...")

        results = run_pull(project, name, since=since, until=until, progress=progress)
    if json_mode:
        from curate.cli.render import emit_json

        emit_json({"pulls": [r.to_dict() for r in results]})
        return
    for result in results:
        _render(console, result)


def _console(json_mode: bool):
    from curate.cli.render import make_console

    return make_console(json_mode)


def _render(console, result: Any) -> None:
    from rich.markup import escape

    project = f", project {result.project}" if result.project else ""
    rate = result.items / result.seconds if result.seconds else 0.0
    pages = f"{result.pages:,} page{'s' if result.pages != 1 else ''}"
    console.print(
        f"[bold]pull {escape(result.name)}[/] "
        f"({escape(f'{result.kind} at {result.base_url}{project}')})"
    )
    console.print(
        f"  {result.items:,} items in {pages}, {result.seconds:.1f} s ({rate:,.0f} items/s): "
        f"[bold]{result.ingested:,}[/] records added, {result.duplicates:,} already here, "
        f"{result.quarantined:,} quarantined"
    )
    for reason, n in result.skipped.items():
        console.print(f"  skipped {n:,} {escape(reason)}")
    if result.filtered:
        console.print(f"  {result.filtered:,} left out by \\[pulls.filter] (model, tags, names)")
    if result.gone:
        console.print(
            f"  {result.gone:,} listed but not fetched (deleted since, or listed with no id)"
        )
    if result.already_quarantined:
        console.print(f"  {result.already_quarantined:,} quarantined by an earlier pull")
    if result.feedback_updated:
        console.print(
            f"  {result.feedback_updated:,} records given the feedback of scores made since they "
            "were pulled: run `curate detect` again (`curate run` does)"
        )
    if result.retries:
        console.print(f"  {result.retries:,} requests retried (429, 5xx or cut off)")
    if result.window.get("backfill"):
        console.print("  a backfill: the cursor stays where it was")
    if result.quarantined:
        console.print("  see why with `curate quarantine`")
