"""The project: curate.toml, its validated tasks and its workspace, made once.

Every stage takes a Project. A command opens one (`curate.open`) and hands the same object to
each stage it runs, so curate.toml and the tasks' schema files are read and checked once per
command, not once per stage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from curate.core.config import Config, load_config
from curate.core.workspace import (
    CONFIG_NAME,
    DEFAULT_DIRNAME,
    ENV_WORKSPACE,
    Workspace,
    configured_root,
)

if TYPE_CHECKING:
    from curate.core.engine import Engine
    from curate.core.tasks import Task


@dataclass
class Project:
    """A workspace and the configuration its stages run with."""

    workspace: Workspace
    config: Config = field(default_factory=Config)
    # the labelling queue, once connected (or given: an in-memory one in tests)
    queue_backend: Any = field(default=None, repr=False, compare=False)

    @cached_property
    def tasks(self) -> dict[str, Task]:
        """The tasks of curate.toml, built and checked once (their schema files read once)."""
        from curate.core.tasks import load_tasks

        return load_tasks(self.config)

    def task(self, name: str) -> Task:
        """One task by name; a ConfigError listing the tasks there are when it is unknown."""
        self.config.require_task(name)
        return self.tasks[name]

    def engine(self, kind: str | None = None, ray_address: str | None = None) -> Engine:
        """Where ingest, detect and clustering run: [engine] of curate.toml, with `kind`
        ("local" or "daft") and `ray_address` over it when given."""
        from curate.core.engine import Engine

        return Engine.from_config(self.config.section("engine"), kind, ray_address)

    def queue(self) -> Any:
        """The labelling queue (a curate.queue.backend.QueueBackend) the queue stage talks to:
        the one this project was given, else the backend `[queue] backend` names (default
        argilla, the server of [argilla] / ARGILLA_API_URL), connected once per project."""
        if self.queue_backend is None:
            from curate.core.plugins import load_function

            name = self.config.section("queue").get("backend", "argilla")
            connect = load_function("curate.queues", name, "queue backend")
            self.queue_backend = connect(self.config)
        return self.queue_backend

    def table(self, name: str) -> pl.DataFrame:
        """A workspace table as a polars DataFrame (records, findings, candidates, ...)."""
        return self.workspace.read_table(name)


def init_project(folder: str | Path, workspace: str | Path | None = None) -> dict[str, Any]:
    """Write a commented curate.toml (an existing one is kept) and an empty workspace in
    `folder`; what was written, as `curate init --json` prints it."""
    from curate.core.config import CONFIG_TEMPLATE
    from curate.core.workspace import atomic_write_bytes

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / CONFIG_NAME
    wrote_config = not config_path.exists()
    if wrote_config:
        atomic_write_bytes(config_path, CONFIG_TEMPLATE.encode())
    root = Path(workspace) if workspace else folder / DEFAULT_DIRNAME
    created = Workspace(root, config_path).create()
    return {
        "config": str(config_path.resolve()),
        "config_written": wrote_config,
        "workspace": str(root.resolve()),
        "workspace_created": created,
    }


def read_table(project: Project, name: str) -> pl.DataFrame:
    """A workspace table as a polars DataFrame: `curate.read_table(project, "findings")`."""
    return project.table(name)


def open_project(
    path: str | Path | Config | None = None, *, workspace: str | Path | None = None
) -> Project:
    """Open a project: a folder holding curate.toml, a curate.toml file, or a Config.

    Without a path, the nearest curate.toml in the current folder or above (as the command
    line finds it). The workspace is `workspace` when given, else CURATE_WORKSPACE, else
    `.curate` next to curate.toml (or in the folder, when there is no curate.toml).
    """
    workspace = workspace or os.environ.get(ENV_WORKSPACE) or None
    if isinstance(path, Config):
        root = configured_root(path.path, path.data) if path.path else Path.cwd() / DEFAULT_DIRNAME
        return Project(Workspace(workspace or root, path.path), path)
    if path is not None and Path(path).is_dir():
        toml = Path(path) / CONFIG_NAME
        config_path = toml.resolve() if toml.is_file() else None
        config = load_config(config_path)
        named = configured_root(config_path, config.data) if config_path else None
        where = workspace or named or Path(path) / DEFAULT_DIRNAME
        return Project(Workspace(where, config_path), config)
    located = Workspace.locate(workspace, path)
    return Project(located, load_config(located.config_path))


__all__ = ["Project", "init_project", "open_project", "read_table"]
