"""`curate argilla up|down|status`: the local Argilla stack's commands."""

from __future__ import annotations

import click

from curate.cli.options import CONTEXT, State, command, show


@click.group(context_settings=CONTEXT)
def argilla() -> None:
    """The local Argilla stack: OpenSearch, Redis and the Argilla server, on 127.0.0.1.

    \b
    `up` installs what is missing (first run: a few minutes), starts what is not running and
    waits until every part answers; `down` stops them; `status` says what runs. Data and logs
    live in the workspace's argilla/ folder. With a server of your own, set ARGILLA_API_URL
    and ARGILLA_API_KEY instead, and start nothing.
    """


def _stack(state: State, json_mode: bool, action: str) -> None:
    from curate.cli import render
    from curate.stack.local import Stack

    workspace = state.workspace()
    workspace.create()
    stack = Stack.for_workspace(workspace)
    if action == "status":
        status = stack.status()
    else:
        console = render.make_console(json_mode)
        status = getattr(stack, action)(say=lambda line: console.print(line))
    show(json_mode, status, render.stack, status)


@command(argilla, name="up")
def argilla_up(state: State, json_mode: bool) -> None:
    """Install (once) and start the local stack; waits until it answers."""
    _stack(state, json_mode, "up")


@command(argilla, name="down")
def argilla_down(state: State, json_mode: bool) -> None:
    """Stop the parts of the local stack that this workspace started."""
    _stack(state, json_mode, "down")


@command(argilla, name="status")
def argilla_status(state: State, json_mode: bool) -> None:
    """Which parts of the local stack run and answer."""
    _stack(state, json_mode, "status")
