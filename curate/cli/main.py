"""The `curate` command group: its options, and the library's errors turned into a message
and an exit code. The commands themselves are in stages.py, workspace.py, queue.py and
argilla.py."""

from __future__ import annotations

import sys
from typing import Any

import click

from curate import __version__
from curate.cli import pull, stages
from curate.cli import workspace as workspace_commands
from curate.cli.argilla import argilla
from curate.cli.options import CONTEXT, State
from curate.cli.queue import REVIEW, queue
from curate.core.errors import CurateError


class CurateGroup(click.Group):
    """Turns the library's errors into a clear message and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from curate.core.text import printable

        try:
            return super().invoke(ctx)
        except CurateError as exc:
            click.echo(f"error: {printable(exc)}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            message = storage_error(exc, ctx.obj) or damaged_files(ctx.obj)
            if message is None:
                raise
            click.echo(f"error: {printable(message)}", err=True)
            sys.exit(1)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception:
            # polars and pyarrow fail deep inside a scan on a damaged file, naming none
            message = damaged_files(ctx.obj)
            if message is None:
                raise
            click.echo(f"error: {printable(message)}", err=True)
            sys.exit(1)


def damaged_files(state: State | None) -> str | None:
    """Which workspace files are damaged, and what to do, when some are (else None)."""
    from curate.core.doctor import name_the_damage
    from curate.core.errors import WorkspaceError

    if state is None:
        return None
    try:
        return name_the_damage(state.workspace())
    except WorkspaceError:
        return None


def storage_error(exc: OSError, state: State | None) -> str | None:
    """What to do about a full disk or a folder that cannot be written, or None for any other
    OSError (that one is a bug to see whole). The path is the error's, else the workspace's
    (pyarrow's full-disk error names no file). Stages commit nothing half-done, so the same
    command, run again once there is room, adds what is missing."""
    import errno

    from curate.core.errors import WorkspaceError

    path = exc.filename
    if path is None and state is not None:
        try:
            path = state.workspace().root
        except WorkspaceError:
            path = None
    where = f" ({path})" if path else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"no space left on the device{where}: free some there, or use a workspace on "
            "another disk (--workspace DIR), and run the command again; nothing it had not "
            "committed was kept, and the workspace is as it was"
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"cannot write{where}: {exc.strerror or 'not permitted'}. Make it writable, or "
            "use a workspace you can write to (--workspace DIR); the workspace is as it was"
        )
    return None


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
      curate run                       all of it, from [[pulls]] and [[sources]] (skips what is
                                       up to date)
      curate init                      write curate.toml and the workspace
      curate ingest LOGS...            read logs into canonical records
      curate pull [NAME]               or pull them from Phoenix / Langfuse ([[pulls]])
      curate detect                    find what broke (curate failures shows it)
      curate balance                   choose the records worth labelling
      curate queue push|pull|status    label them in Argilla (curate argilla up starts it)
      curate export                    write the corrected failures as SFT data
      curate status                    what the workspace holds (curate doctor: is it whole?)

    Run `curate COMMAND --help` for each command's options and examples.
    """
    ctx.obj = State(workspace, config)


for cmd in [
    *stages.COMMANDS,
    *pull.COMMANDS,
    *workspace_commands.COMMANDS,
    *REVIEW,
    argilla,
    queue,
]:
    main.add_command(cmd)
