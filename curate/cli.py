"""The `curate` command: a thin layer over the library that parses, calls, and renders.

Heavy imports happen inside the commands so that `curate --help` is instant.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from curate import __version__
from curate.errors import CurateError

# option types with their ranges: a value out of range is refused with the range, by click
SEED = click.IntRange(0, 2**32 - 1)
COUNT = click.IntRange(min=1)
SHARE = click.FloatRange(0, 1, max_open=True)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class State:
    def __init__(self, workspace: str | None, config: str | None):
        self.workspace_arg = workspace
        self.config_arg = config
        self._project = None

    def workspace(self):
        from curate.workspace import Workspace

        return Workspace.locate(self.workspace_arg, self.config_arg)

    def config(self):
        return self.project().config

    def project(self):
        """The command's project, opened once: every stage it runs shares it."""
        if self._project is None:
            from curate.config import load_config
            from curate.project import Project

            workspace = self.workspace()
            self._project = Project(workspace, load_config(workspace.config_path))
        return self._project


def _console(json_mode: bool = False):
    from rich.console import Console

    from curate.text import printable

    class SafeConsole(Console):
        """Every text it shows (tables and panels included) has its control characters
        neutralized: logged content never reaches the terminal as escape sequences."""

        def render_str(self, text: str, **kwargs: Any):
            return super().render_str(printable(text), **kwargs)

    # With --json, stdout carries only the JSON object; everything for people goes to stderr.
    return SafeConsole(stderr=True) if json_mode else SafeConsole()


def _emit_json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class CurateGroup(click.Group):
    """Turns the library's errors into a clear message and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CurateError as exc:
            from curate.text import printable

            click.echo(f"error: {printable(exc)}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=CurateGroup, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="curate")
@click.option(
    "--workspace",
    "-w",
    metavar="DIR",
    envvar="CURATE_WORKSPACE",
    help="Workspace folder (default: .curate next to curate.toml). Env: CURATE_WORKSPACE.",
)
@click.option(
    "--config",
    "-c",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="curate.toml to use (default: the nearest one in this folder or above).",
)
@click.pass_context
def main(ctx: click.Context, workspace: str | None, config: str | None) -> None:
    """Train on what broke: mine LLM failures from production logs into fine-tuning data.

    \b
    The pipeline, one command per stage:
      curate run                       all of it, from [[sources]] (skips what is up to date)
      curate init                      write curate.toml and the workspace
      curate ingest LOGS...            read logs into canonical records
      curate detect                    find what broke (curate failures shows it)
      curate balance                   choose the records worth labelling
      curate queue push|pull|status    label them in Argilla (curate argilla up starts it)
      curate export                    write the corrected failures as SFT data
      curate status                    what the workspace holds

    Run `curate COMMAND --help` for each command's options and examples.
    """
    ctx.obj = State(workspace, config)


@main.command(context_settings=CONTEXT)
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def init(state: State, directory: str, json_mode: bool) -> None:
    """Write a commented curate.toml and an empty workspace in DIRECTORY.

    An existing curate.toml is left as it is.
    """
    from curate.config import CONFIG_TEMPLATE
    from curate.workspace import CONFIG_NAME, DEFAULT_DIRNAME, Workspace, atomic_write_bytes

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / CONFIG_NAME
    wrote_config = not config_path.exists()
    if wrote_config:
        atomic_write_bytes(config_path, CONFIG_TEMPLATE.encode())
    root = Path(state.workspace_arg) if state.workspace_arg else folder / DEFAULT_DIRNAME
    created = Workspace(root, config_path).create()
    if json_mode:
        _emit_json(
            {
                "config": str(config_path.resolve()),
                "config_written": wrote_config,
                "workspace": str(root.resolve()),
                "workspace_created": created,
            }
        )
        return
    console = _console()
    console.print(
        f"{'wrote' if wrote_config else 'kept existing'} {config_path}\n"
        f"{'created' if created else 'found existing'} workspace {root}\n"
        "next: describe your tasks in curate.toml, then `curate ingest LOGS... --task NAME`"
    )


def _parse_map(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        field, sep, column = value.partition("=")
        if not sep or not field or not column:
            raise click.BadParameter(
                f"{value!r}: write FIELD=COLUMN, e.g. output=answer", param_hint="--map"
            )
        out[field.strip()] = column.strip()
    return out


@main.command(context_settings=CONTEXT)
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--format",
    "format_name",
    default="auto",
    show_default=True,
    metavar="NAME",
    help="Log format; `auto` detects it from the content. See `curate formats`.",
)
@click.option(
    "--task", metavar="NAME", help="Task of these records (a [tasks.NAME] in curate.toml)."
)
@click.option(
    "--references",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="CSV/JSONL/Parquet with columns id, reference: the known answer per source_id.",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Read any JSONL/CSV/Parquet as a table: --map input=question --map output=answer.",
)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def ingest(
    state: State,
    paths: tuple[str, ...],
    format_name: str,
    task: str | None,
    references: str | None,
    maps: tuple[str, ...],
    json_mode: bool,
) -> None:
    """Read log files into canonical records (gzip fine; formats detected from content).

    \b
    Formats: OpenAI chat completions logs, OpenAI Batch API output (+ its input file),
    Langfuse and LangSmith exports, OpenTelemetry GenAI spans (OTLP JSON), LiteLLM
    StandardLoggingPayload, VCR cassettes, and any JSONL/CSV/Parquet with --map.

    \b
    Lines that cannot be read go to the quarantine table with file, line and reason; ingest
    goes on and counts them. Ingesting the same file again adds nothing.

    \b
    Examples:
      curate ingest logs/2026-11-*.jsonl.gz --task entity_match
      curate ingest batch_output.jsonl batch_input.jsonl --references answers.csv
      curate ingest reviews.csv --map input=question --map output=answer --map reference=label
    """
    from curate.ingest import ingest_logs

    project = state.project()
    console = _console(json_mode)
    with _progress(console, disable=json_mode) as on_progress:
        result = ingest_logs(
            project,
            paths,
            format_name=format_name,
            task=task,
            references=references,
            field_map=_parse_map(maps),
            progress=on_progress,
        )
    if json_mode:
        _emit_json(result.to_dict())
        return
    _render_ingest(console, result, project.workspace)


def _progress(console, disable: bool):
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


def _render_ingest(console, result, workspace) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="ingest", show_lines=False)
    for column in ("source", "format", "ingested", "duplicates", "quarantined", "skipped"):
        table.add_column(column, justify="right" if column not in ("source", "format") else "left")
    for s in result.sources:
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


@main.command(context_settings=CONTEXT)
@click.option(
    "--only",
    metavar="NAME,...",
    help="Run only these detectors (their earlier findings are replaced, the others kept).",
)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def detect(state: State, only: str | None, json_mode: bool) -> None:
    """Run the failure detectors over the ingested records and write `findings`.

    \b
    Each detector checks the records of the tasks it applies to (see `curate detectors`;
    settings under [detectors.NAME] in curate.toml). Prints, per detector, how many records
    failed and at what rate, then the same by task, model and prompt_version.

    \b
    Examples:
      curate detect
      curate detect --only truncated,refusal --json
      curate failures --detector label_out_of_vocab
    """
    from curate.detect import find_failures

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    result = find_failures(state.project(), only=names)
    if json_mode:
        _emit_json(result.to_dict())
        return
    _render_detect(_console(), result)


def _render_detect(console, result) -> None:
    from rich.markup import escape
    from rich.table import Table

    if result.records == 0:
        console.print("no records in the workspace yet: run `curate ingest LOGS...` first")
        return

    table = Table(title=f"detect: {result.records} records")
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
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")
    console.print(escape("  read them: curate failures [--detector NAME]"))


@main.command(context_settings=CONTEXT)
@click.option("--detector", "detector", metavar="NAME", help="Only this detector's findings.")
@click.option("--task", metavar="NAME", help="Only records of this task.")
@click.option(
    "--limit", default=10, show_default=True, type=COUNT, help="How many findings to show."
)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def failures(
    state: State, detector: str | None, task: str | None, limit: int, json_mode: bool
) -> None:
    """Show findings with the record's input, output and evidence, for a person to read."""
    from curate.failures import list_failures

    total, rows = list_failures(state.workspace(), detector=detector, task=task, limit=limit)
    if json_mode:
        _emit_json({"total": total, "failures": rows})
        return
    from rich.markup import escape
    from rich.panel import Panel

    from curate.text import printable

    console = _console()
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
        console.print(Panel(body, title=title, title_align="left"))
    console.print(f"showing {len(rows)} of {total} findings")


@main.command(name="detectors", context_settings=CONTEXT)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
def list_detectors(json_mode: bool) -> None:
    """List the registered detectors, what each finds, and its config keys."""
    from curate.detectors import available

    rows = [
        {
            "name": cls.name,
            "description": cls.description,
            "failure_type": cls.failure_type,
            "severity": cls.severity,
            "applies_to": list(cls.kinds) if cls.kinds else "any task",
            "requires": cls.requires,
            "options": {k: {"default": o.default, "help": o.help} for k, o in cls.options.items()},
            "module": cls.__module__,
        }
        for cls in available().values()
    ]
    if json_mode:
        _emit_json({"detectors": rows})
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape("detectors (settings go under [detectors.NAME] in curate.toml)"))
    for column in ("name", "finds", "config keys (default)"):
        table.add_column(column, overflow="fold")
    for row in rows:
        keys = "\n".join(f"{k} = {o['default']!r}: {o['help']}" for k, o in row["options"].items())
        table.add_row(row["name"], escape(row["description"]), escape(keys or "-"))
    _console().print(table)


@main.command(context_settings=CONTEXT)
@click.option(
    "--target",
    default=1000,
    show_default=True,
    type=COUNT,
    help="How many records to choose per task.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=SEED,
    help="The same seed gives the same choice (0 to 4294967295).",
)
@click.option(
    "--class-ratio",
    metavar="CLASS=SHARE,...",
    help="Share of each class among the chosen failures (default: the labels in equal shares).",
)
@click.option(
    "--max-per-cluster",
    default=2,
    show_default=True,
    type=COUNT,
    help="At most K near-duplicates.",
)
@click.option(
    "--controls",
    default=0.1,
    show_default=True,
    type=SHARE,
    help="Share of records that passed every detector, added after the failures.",
)
@click.option(
    "--quota",
    "quotas",
    multiple=True,
    metavar="KEY=VALUE=SHARE",
    help="Reserve a share for a class, failure_type or edge_case: edge_case=nickname=0.1.",
)
@click.option("--task", metavar="NAME", help="Only this task (default: every task of curate.toml).")
@click.option(
    "--cutoff",
    default=90.0,
    show_default=True,
    type=click.FloatRange(0, 100),
    help="Near-duplicate cutoff (rapidfuzz 0-100).",
)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def balance(
    state: State,
    target: int,
    seed: int,
    class_ratio: str | None,
    max_per_cluster: int,
    controls: float,
    quotas: tuple[str, ...],
    task: str | None,
    cutoff: float,
    json_mode: bool,
) -> None:
    """Choose the records worth labelling: balanced, hard cases kept, near-duplicates collapsed.

    \b
    Clusters near-duplicate inputs, tags the edge cases of entity pairs (nicknames, swapped
    names, partial dates, ...), then picks --target records per task: the failures first,
    balanced across classes (the known reference, else the model's label) and spread over
    the strata class x failure type x edge case, then --controls. Writes the candidates,
    clusters and tags tables and says what it could not fill, and why.

    \b
    Examples:
      curate balance --target 1000 --seed 7
      curate balance --class-ratio match=0.5,non_match=0.5 --quota edge_case=nickname=0.1
    """
    from curate.balance import BalanceSettings, Quota, balance_candidates, parse_ratio
    from curate.cluster import ClusterSettings

    settings = BalanceSettings(
        target=target,
        seed=seed,
        class_ratio=parse_ratio(class_ratio),
        max_per_cluster=max_per_cluster,
        controls=controls,
        quotas=[Quota.parse(q) for q in quotas],
        task=task,
        cluster=ClusterSettings(cutoff=cutoff),
    )
    result = balance_candidates(state.project(), settings)
    if json_mode:
        _emit_json(result.to_dict())
        return
    _render_balance(_console(), result)


def _render_balance(console, result) -> None:
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


@main.group(context_settings=CONTEXT)
def queue() -> None:
    """Send the candidates to Argilla for labelling, and bring the answers back.

    \b
    curate queue push      the candidates of `curate balance` become Argilla records
    curate queue status    pending / completed / discarded, per stratum and annotator
    curate queue pull      the answers into `annotations`, with agreement and resolution

    Argilla is the local stack (`curate argilla up`) unless ARGILLA_API_URL / ARGILLA_API_KEY
    (or [argilla] in curate.toml) name a server of your own.
    """


@queue.command(name="push", context_settings=CONTEXT)
@click.option("--task", metavar="NAME", help="Only this task's candidates.")
@click.option("--dataset", metavar="NAME", help="Argilla dataset name (default: curate-TASK).")
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def queue_push(state: State, task: str | None, dataset: str | None, json_mode: bool) -> None:
    """Push the candidates; re-pushing updates, never duplicates, never touches answered ones."""
    from curate.queue import push_queue

    console = _console(json_mode)
    with _progress(console, disable=json_mode) as on_progress:
        results = push_queue(state.project(), task=task, dataset=dataset, progress=on_progress)
    if json_mode:
        _emit_json({"datasets": [r.to_dict() for r in results]})
        return
    for r in results:
        console.print(
            f"{r.dataset}: {r.pushed} records pushed"
            + (f", {r.kept_answered} already answered left as they are" if r.kept_answered else "")
            + (" (new dataset)" if r.created else "")
        )
    if results:
        console.print(f"label them at {results[0].url}; then: curate queue pull")


@queue.command(name="pull", context_settings=CONTEXT)
@click.option("--task", metavar="NAME", help="Only this task's dataset.")
@click.option("--dataset", metavar="NAME", help="Argilla dataset name (default: curate-TASK).")
@click.option(
    "--policy",
    type=click.Choice(["majority", "unanimous", "prefer-user"]),
    default="majority",
    show_default=True,
    help="How disagreeing answers are resolved.",
)
@click.option("--prefer-user", metavar="NAME", help="With --policy prefer-user: whose answer wins.")
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def queue_pull(
    state: State,
    task: str | None,
    dataset: str | None,
    policy: str,
    prefer_user: str | None,
    json_mode: bool,
) -> None:
    """Store submitted and discarded answers (history kept); agreement and resolution."""
    from curate.queue import pull_queue

    result = pull_queue(
        state.project(),
        task=task,
        dataset=dataset,
        policy=policy,
        prefer_user=prefer_user,
    )
    if json_mode:
        _emit_json(result.to_dict())
        return
    console = _console()
    console.print(
        f"{result.new_responses} new responses; {result.responses} in all on "
        f"{result.records_answered} records; {result.resolved} answers resolved by {result.policy}"
    )
    for question, a in result.agreement.items():
        if a["records"]:
            headline = "Cohen's kappa" if a["kappa_kind"] == "cohen" else "Krippendorff's alpha"
            console.print(
                f"  {question}: {a['percent_agreement']:.0%} agreement on {a['records']} records "
                f"answered by 2+ of {a['annotators']} annotators; {headline} {a['kappa']}"
            )
            for pair in a["pairs"] if len(a["pairs"]) > 1 else []:
                first, second = pair["annotators"]
                console.print(
                    f"    {first} & {second}: {pair['records']} records, "
                    f"{pair['percent_agreement']:.0%} agree, Cohen's kappa {pair['kappa']}"
                )
    for conflict in result.conflicts[:20]:
        what = f"{conflict['record_id']} {conflict['question']}: {conflict['answers']}"
        console.print(f"  [yellow]conflict[/] {what}")


@queue.command(name="status", context_settings=CONTEXT)
@click.option("--task", metavar="NAME", help="Only this task.")
@click.option("--dataset", metavar="NAME", help="Argilla dataset name (default: curate-TASK).")
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def queue_status_command(
    state: State, task: str | None, dataset: str | None, json_mode: bool
) -> None:
    """Pending, completed and discarded records, per stratum and per annotator."""
    from curate.queue import queue_status

    status = queue_status(state.project(), dataset=dataset, task=task)
    if json_mode:
        _emit_json(status)
        return
    console = _console()
    for task, s in status.items():
        if not s["pushed"]:
            console.print(f"{task}: not pushed yet (curate queue push)")
            continue
        console.print(f"{task} ({s['dataset']}): {s['totals']}")
        for who, n in s["by_annotator"].items():
            console.print(f"  {who}: {n}")


@main.command(context_settings=CONTEXT)
@click.option(
    "--name", default="sft", show_default=True, help="Folder under the workspace's exports/."
)
@click.option("--task", metavar="NAME", help="Only this task.")
@click.option(
    "--format",
    "format_name",
    metavar="FORMAT",
    default="openai",
    show_default=True,
    help="How each example is written: openai, prompt-completion, sharegpt, alpaca, or a "
    "plugin's (`curate formats` lists them).",
)
@click.option(
    "--system-prompt",
    type=click.Path(exists=True, dir_okay=False),
    help="A file with a short system prompt to use instead of the production one.",
)
@click.option("--include-controls", is_flag=True, help="Also records annotators confirmed correct.")
@click.option(
    "--validation-fraction",
    default=0.1,
    show_default=True,
    type=SHARE,
    help="Share for validation.",
)
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the split.")
@click.option(
    "--max-tokens",
    default=16384,
    show_default=True,
    type=COUNT,
    help="Longer examples are left out.",
)
@click.option(
    "--hf",
    "hf_dir",
    type=click.Path(file_okay=False),
    help="Also save a datasets.DatasetDict here.",
)
@click.option(
    "--push-to-hub", metavar="REPO", help="Also push the DatasetDict to the Hugging Face Hub."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing exports/NAME/.")
@click.option(
    "--allow-small", is_flag=True, help="Write fewer than 10 examples (OpenAI refuses those)."
)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def export(
    state: State,
    name: str,
    task: str | None,
    format_name: str,
    system_prompt: str | None,
    include_controls: bool,
    validation_fraction: float,
    seed: int,
    max_tokens: int,
    hf_dir: str | None,
    push_to_hub: str | None,
    overwrite: bool,
    allow_small: bool,
    json_mode: bool,
) -> None:
    """Write the corrected failures as SFT-ready JSONL, validated, split, with provenance.

    \b
    One example per resolved record: the original input (or --system-prompt instead of the
    production one) and the corrected output as the assistant turn (JSON re-serialized and
    checked against the task schema). Invalid, duplicate and too-long examples are listed with
    their reason and left out. Writes exports/NAME/{train,validation}.jsonl, manifest.json and
    a README.md dataset card.

    \b
    Examples:
      curate export --name em-v1 --validation-fraction 0.15 --seed 3
      curate export --format sharegpt --system-prompt short_prompt.txt --hf hf_dataset/
    """
    from pathlib import Path

    from curate.export import ExportSettings, export_dataset

    settings = ExportSettings(
        name=name,
        task=task,
        format=format_name,
        system_prompt=Path(system_prompt).read_text().strip() if system_prompt else None,
        include_controls=include_controls,
        validation_fraction=validation_fraction,
        seed=seed,
        max_tokens=max_tokens,
        hf_dir=Path(hf_dir) if hf_dir else None,
        push_to_hub=push_to_hub,
        overwrite=overwrite,
        allow_small=allow_small,
    )
    result = export_dataset(state.project(), settings)
    if json_mode:
        _emit_json(result.to_dict())
        return
    console = _console()
    console.print(
        f"wrote {result.written.get('train', 0)} train and {result.written.get('validation', 0)} "
        f"validation examples to {result.folder}"
    )
    for reason, n in sorted(result.excluded.items()):
        console.print(f"  left out {n}: {reason}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


@main.command(context_settings=CONTEXT)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Also write one self-contained HTML file.",
)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def report(state: State, html_path: str | None, json_mode: bool) -> None:
    """Should we fine-tune yet, and on what? Failure trends, readiness, the cost case.

    \b
    Failure rates per detector over time and per prompt_version, with a verdict on whether
    prompting has plateaued; the training set against its target ([report] target, default
    1000 labelled examples, balanced, every edge case covered) and what is missing; prompt
    tokens per call, the system prompt's share, tokens and cost per million calls now and
    with a short prompt after fine-tuning ([report.prices]), and prefill latency against
    prompt length fitted from the logs.
    """
    from pathlib import Path

    from curate.report import build_report, public, render_html, report_notes

    data = build_report(state.project())
    if html_path:
        Path(html_path).write_text(render_html(data))
    if json_mode:
        _emit_json(public(data))
        return
    from rich.markup import escape

    console = _console()
    for task, verdict in data["failures"]["verdicts"].items():
        console.print(f"[bold]{task}[/]: {verdict['verdict']} ({verdict['why']})")
    ready = data["readiness"]
    console.print(f"training set: {ready['labelled']} labelled of {ready['target']}")
    for line in ready["missing"]:
        console.print(f"  missing: {line}")
    cost = data["cost"]
    if "prompt_tokens_per_call" in cost and cost["system_prompt_tokens"] is not None:
        console.print(
            f"prompt tokens per call {cost['prompt_tokens_per_call']}, of which the system prompt "
            f"{cost['system_prompt_tokens']} ({cost['system_prompt_share']:.0%})"
        )
    for note in report_notes(data):
        console.print(f"  [dim]{escape(note)}[/]")
    if html_path:
        console.print(f"wrote {html_path}")


@main.command(name="run", context_settings=CONTEXT)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def run_command(state: State, json_mode: bool) -> None:
    """The whole job: ingest, detect, balance, push; then pull and export once labelled.

    \b
    Reads the logs listed as [[sources]] in curate.toml. Each stage is skipped when its
    inputs have not changed since its last run (the manifest keeps their fingerprints), so
    running it again after labelling pulls the answers and writes the training set.
    Argilla: the local stack (`curate argilla up`) or ARGILLA_API_URL / ARGILLA_API_KEY.
    """
    from curate.queue import connection
    from curate.run import run_pipeline
    from curate.stack.local import PASSWORD, USERNAME

    console = _console(json_mode)
    project = state.project()
    config = project.config
    with _progress(console, disable=json_mode) as on_progress:
        result = run_pipeline(project, say=console.print, progress=on_progress)
    if json_mode:
        _emit_json(result.to_dict())
    else:
        url, _ = connection(config)
        if "queue push" in result.stages and not result.failed:
            console.print(
                f"label at {url} (user {USERNAME}, password {PASSWORD}, for the local stack)"
            )
            console.print(
                "after labelling, run the same command again: `curate run` pulls and exports"
            )
    if result.failed:
        sys.exit(1)


@main.group(context_settings=CONTEXT)
def argilla() -> None:
    """The local Argilla stack: OpenSearch, Redis and the Argilla server, on 127.0.0.1.

    \b
    `up` installs what is missing (first run: a few minutes), starts what is not running and
    waits until every part answers; `down` stops them; `status` says what runs. Data and logs
    live in the workspace's argilla/ folder. With a server of your own, set ARGILLA_API_URL
    and ARGILLA_API_KEY instead, and start nothing.
    """


def _stack(state: State):
    from curate.stack.local import Stack

    workspace = state.workspace()
    workspace.create()
    return Stack.for_workspace(workspace)


def _render_stack(console, status: dict) -> None:
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


def _stack_action(state: State, json_mode: bool, action: str) -> None:
    console = _console(json_mode)
    status = getattr(_stack(state), action)(say=lambda line: console.print(line))
    if json_mode:
        _emit_json(status)
    else:
        _render_stack(console, status)


@argilla.command(name="up", context_settings=CONTEXT)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def argilla_up(state: State, json_mode: bool) -> None:
    """Install (once) and start the local stack; waits until it answers."""
    _stack_action(state, json_mode, "up")


@argilla.command(name="down", context_settings=CONTEXT)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def argilla_down(state: State, json_mode: bool) -> None:
    """Stop the parts of the local stack that this workspace started."""
    _stack_action(state, json_mode, "down")


@argilla.command(name="status", context_settings=CONTEXT)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def argilla_status(state: State, json_mode: bool) -> None:
    """Which parts of the local stack run and answer."""
    status = _stack(state).status()
    if json_mode:
        _emit_json(status)
    else:
        _render_stack(_console(), status)


@main.command(context_settings=CONTEXT)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def status(state: State, json_mode: bool) -> None:
    """What the workspace holds: records by format, task and model; quarantine; sources."""
    from curate.status import workspace_status

    data = workspace_status(state.workspace())
    if json_mode:
        _emit_json(data)
        return
    console = _console()
    console.print(f"workspace [bold]{data['workspace']}[/]")
    console.print(
        f"  {data['records']} records, {data['quarantined']} quarantined rows, "
        f"{len(data['sources'])} sources ingested"
    )
    for key in ("by_format", "by_task", "by_model"):
        if data[key]:
            parts = ", ".join(f"{k}: {v}" for k, v in data[key].items())
            console.print(f"  {key.replace('_', ' ')}: {parts}")


@main.command(context_settings=CONTEXT)
@click.option("--limit", default=20, show_default=True, type=COUNT, help="How many rows to show.")
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
@click.pass_obj
def quarantine(state: State, limit: int, json_mode: bool) -> None:
    """Show the input rows that could not be read, with file, line and reason."""
    from curate.status import quarantine_rows

    total, rows = quarantine_rows(state.workspace(), limit)
    if json_mode:
        _emit_json({"quarantined": total, "rows": rows})
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"quarantine ({total} rows; showing {len(rows)})")
    for column in ("source", "line", "reason", "raw"):
        table.add_column(column, overflow="fold")
    for row in rows:
        raw = (row["raw"] or "")[:120]
        table.add_row(escape(row["source"]), str(row["line"]), escape(row["reason"]), escape(raw))
    _console().print(table)


@main.command(context_settings=CONTEXT)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON object for scripts.")
def formats(json_mode: bool) -> None:
    """List the log formats `curate ingest` reads (and what each expects), and the formats
    `curate export --format` writes. Plugins' formats are listed with curate's own."""
    from curate import exporters
    from curate.formats import available

    rows = [
        {"name": f.name, "detected": f.sniffed, "expects": f.expects} for f in available().values()
    ]
    written = [{"name": e.name, "writes": e.description} for e in exporters.available().values()]
    if json_mode:
        _emit_json({"formats": rows, "export_formats": written})
        return
    from rich.table import Table

    table = Table(title="log formats")
    table.add_column("name")
    table.add_column("detected")
    table.add_column("expects", overflow="fold")
    for row in rows:
        table.add_row(
            row["name"], "auto" if row["detected"] else "--map / --format", row["expects"]
        )
    _console().print(table)
    exports = Table(title="export formats (curate export --format)")
    exports.add_column("name")
    exports.add_column("writes", overflow="fold")
    for row in written:
        exports.add_row(row["name"], row["writes"])
    _console().print(exports)


if __name__ == "__main__":  # pragma: no cover
    main()
