"""What every `curate` command shares: the group's state, the --json option, the option types
with their ranges, and how a result is shown (rendered for people, or JSON for scripts)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

# option types with their ranges: a value out of range is refused with the range, by click
SEED = click.IntRange(0, 2**32 - 1)
COUNT = click.IntRange(min=1, max=10**9)  # past that: a typo, not a count
SHARE = click.FloatRange(0, 1, max_open=True)

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class State:
    """What the group's options say; the command's project, opened once."""

    def __init__(self, workspace: str | None, config: str | None):
        self.workspace_arg, self.config_arg = workspace, config
        self._project = None

    def workspace(self):
        from curate.core.workspace import Workspace

        return Workspace.locate(self.workspace_arg, self.config_arg)

    def project(self):
        """Every stage the command runs shares it: curate.toml and its tasks are read once."""
        if self._project is None:
            from curate.core.config import load_config
            from curate.core.project import Project

            workspace = self.workspace()
            self._project = Project(workspace, load_config(workspace.config_path))
        return self._project


def command(group: click.Group | list[click.Command], name: str | None = None, state: bool = True):
    """A subcommand with the options every command has: -h/--help, --json, and (with `state`)
    the group's State as its first argument. `group` is its group, or a list the command joins
    (a module's COMMANDS, which the `curate` group adds)."""

    def decorate(fn: Callable[..., Any]) -> click.Command:
        fn = click.option(
            "--json", "json_mode", is_flag=True, help="Print one JSON object for scripts."
        )(fn)
        if state:
            fn = click.pass_obj(fn)
        if isinstance(group, click.Group):
            cmd = group.command(name=name, context_settings=CONTEXT)(fn)
        else:
            cmd = click.command(name=name, context_settings=CONTEXT)(fn)
            group.append(cmd)
        cmd.params.append(cmd.params.pop(0))  # --json after the command's own options
        return cmd

    return decorate


def show(json_mode: bool, data: Any, render: Callable[..., None], *args: Any) -> None:
    """The result as JSON (`data`, or its to_dict()), or rendered for people."""
    from curate.cli import render as out

    if json_mode:
        out.emit_json(data.to_dict() if hasattr(data, "to_dict") else data)
    else:
        render(out.make_console(), *args)


def progress(json_mode: bool):
    """(console, a progress-bar context): people see bars on stderr-safe consoles."""
    from curate.cli import render as out

    console = out.make_console(json_mode)
    return console, out.progress(console, disable=json_mode)


TASK = click.option("--task", metavar="NAME", help="Only this task's dataset.")
DATASET = click.option(
    "--dataset", metavar="NAME", help="Argilla dataset name (default: curate-TASK)."
)

CONFIG_FAILURES = (
    "Keep the failures configuration or serving fixes (triage config / infrastructure), which "
    "are left out of the training set by default."
)


def engine_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--engine and --ray-address: where the command's heavy work runs ([engine] by default)."""
    func = click.option(
        "--ray-address",
        metavar="HOST:PORT",
        help="Run on this Ray cluster (implies --engine daft; [engine] ray_address, "
        "CURATE_RAY_ADDRESS).",
    )(func)
    return click.option(
        "--engine",
        type=click.Choice(["local", "daft"]),
        help="local: polars on this machine; daft: Daft on all cores or a Ray cluster. "
        "Same results. Default: [engine] kind of curate.toml, else local.",
    )(func)
