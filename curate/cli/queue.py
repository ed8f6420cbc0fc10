"""`curate queue push|pull|status`: labelling in Argilla, from the command line."""

from __future__ import annotations

from typing import Any

import click

from curate.cli.options import (
    CONTEXT,
    COUNT,
    DATASET,
    SHARE,
    TASK,
    State,
    command,
    progress,
    show,
)


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
    from curate.cli import render_queue as render
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
@click.option(
    "--no-adjudication",
    "adjudicate",
    is_flag=True,
    flag_value=False,
    default=True,
    help="Do not send the records still in conflict to curate-TASK-adjudication.",
)
def queue_pull(state: State, json_mode: bool, **options: Any) -> None:
    """Store submitted and discarded answers (history kept); agreement and resolution.

    \b
    Reads each task's dataset and its review and adjudication datasets. Records whose answers
    still conflict under the policy go to curate-TASK-adjudication, with every answer and its
    annotator, the reference and the judge's answer; an answer given there decides at the next
    pull, whatever the policy."""
    from curate.cli import render_queue as render
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
    from curate.cli import render_queue as render
    from curate.queue.stage import queue_status

    status = queue_status(state.project(), dataset=dataset, task=task)
    show(json_mode, status, render.queue_status, status)


REVIEW: list[click.Command] = []


@command(REVIEW)
@TASK
@click.option("--limit", default=20, show_default=True, type=COUNT, help="How many to list.")
@click.option(
    "--min-suspicion",
    default=0.3,
    show_default=True,
    type=SHARE,
    help="With --push: the score from which a label goes back for a second look.",
)
@click.option("--push", is_flag=True, help="Push the suspected labels to curate-TASK-review.")
def review(
    state: State, task: str | None, limit: int, min_suspicion: float, push: bool, json_mode: bool
) -> None:
    """The labels people gave that are most likely wrong, most suspicious first.

    \b
    Each resolved label is scored by the evidence against it: a trusted or audited reference
    that disagrees, the judge disagreeing above the score where it is right 95% of the time,
    its near-duplicates labelled otherwise, a lone vote from an annotator of low measured
    quality. --push sends those at or above --min-suspicion to a review dataset in Argilla
    (curate-TASK-review); `curate queue pull --dataset curate-TASK-review --task TASK` brings
    the second look back, and `curate export --max-suspicion` leaves out what is still suspect.

    \b
    Examples:
      curate review
      curate review --task entity_match --push
    """
    from curate.cli import render_queue as render
    from curate.queue.review import review_queue

    data = review_queue(
        state.project(), task=task, limit=limit, push=push, min_suspicion=min_suspicion
    )
    show(json_mode, data, render.review, data)
