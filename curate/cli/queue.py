"""`curate queue push|pull|status`: labelling in Argilla, from the command line."""

from __future__ import annotations

from typing import Any

import click

from curate.cli.options import CONTEXT, DATASET, TASK, State, command, progress, show


@click.group(context_settings=CONTEXT)
def queue() -> None:
    """Send the candidates to Argilla for labelling, and bring the answers back.

    \b
    curate queue push      the candidates of `curate balance` become Argilla records
    curate queue status    pending / completed / discarded, per stratum and annotator
    curate queue pull      the answers into `annotations`, with agreement and resolution

    Argilla is the local stack (`curate argilla up`) unless ARGILLA_API_URL / ARGILLA_API_KEY
    (or [argilla] in curate.toml) name a server of your own.
    """


@command(queue, name="push")
@TASK
@DATASET
def queue_push(state: State, task: str | None, dataset: str | None, json_mode: bool) -> None:
    """Push the candidates; re-pushing updates, never duplicates, never touches answered ones."""
    from curate.cli import render
    from curate.queue.stage import push_queue

    _, bars = progress(json_mode)
    with bars as on_progress:
        results = push_queue(state.project(), task=task, dataset=dataset, progress=on_progress)
    show(json_mode, {"datasets": [r.to_dict() for r in results]}, render.push, results)


@command(queue, name="pull")
@TASK
@DATASET
@click.option(
    "--policy",
    type=click.Choice(["majority", "unanimous", "prefer-user", "weighted"]),
    default="majority",
    show_default=True,
    help="How disagreeing answers are resolved; weighted: each vote weighs by its annotator's "
    "measured quality (gold accuracy, else agreement with the others).",
)
@click.option("--prefer-user", metavar="NAME", help="With --policy prefer-user: whose answer wins.")
def queue_pull(state: State, json_mode: bool, **options: Any) -> None:
    """Store submitted and discarded answers (history kept); agreement and resolution."""
    from curate.cli import render
    from curate.queue.stage import pull_queue

    result = pull_queue(state.project(), **options)
    show(json_mode, result, render.pull, result)


@command(queue, name="status")
@TASK
@DATASET
def queue_status_command(
    state: State, task: str | None, dataset: str | None, json_mode: bool
) -> None:
    """Pending, completed and discarded records, per stratum and per annotator."""
    from curate.cli import render
    from curate.queue.stage import queue_status

    status = queue_status(state.project(), dataset=dataset, task=task)
    show(json_mode, status, render.queue_status, status)
