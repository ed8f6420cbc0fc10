"""curate: train on what broke.

Mine the failures of prompted LLMs out of production logs and turn them into fine-tuning data.

From Python (a notebook, a script), each stage is one function over a project:

    import curate

    project = curate.open("my_project")          # the folder holding curate.toml
    curate.ingest_logs(project, ["logs/calls.jsonl.gz"], task="entity_match")
    curate.find_failures(project)
    failures = curate.read_table(project, "findings")   # a polars DataFrame
    curate.balance_candidates(project, curate.BalanceSettings(target=1000))

Each heavy stage takes `engine=`: `project.engine("daft")` runs it on Daft, on all cores or,
with a ray_address, on a Ray cluster (docs/scale.md).

The names below are the public API; they load on first use, so `import curate` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> the module that defines it
_PUBLIC = {
    "open": "curate.project",
    "Project": "curate.project",
    "Config": "curate.config",
    "load_config": "curate.config",
    "Task": "curate.tasks",
    "Workspace": "curate.workspace",
    "read_table": "curate.project",
    "Engine": "curate.engine",
    # the stages
    "ingest_logs": "curate.ingest",
    "IngestResult": "curate.ingest",
    "find_failures": "curate.detect",
    "DetectResult": "curate.detect",
    "balance_candidates": "curate.balance",
    "BalanceSettings": "curate.balance",
    "BalanceResult": "curate.balance",
    "push_queue": "curate.queue",
    "pull_queue": "curate.queue",
    "queue_status": "curate.queue",
    "export_dataset": "curate.export",
    "ExportSettings": "curate.export",
    "ExportResult": "curate.export",
    "build_report": "curate.report",
    "run_pipeline": "curate.run",
    # the plugin base classes (entry points curate.detectors, .formats, .edge_cases, .exporters):
    # import them from here, wherever they live inside the package
    "Detector": "curate.detectors.base",
    "Option": "curate.detectors.base",
    "LogFormat": "curate.formats.base",
    "Tagger": "curate.taggers",
    "ValueTagger": "curate.taggers",
    "Exporter": "curate.exporters",
    # the errors
    "CurateError": "curate.errors",
    "ConfigError": "curate.errors",
    "WorkspaceError": "curate.errors",
    "WorkspaceLocked": "curate.errors",
    "MissingTableError": "curate.errors",
    "InputError": "curate.errors",
    "UnknownFormat": "curate.errors",
    "QueueError": "curate.errors",
    "ExportError": "curate.errors",
    "TooFewExamples": "curate.errors",
    "StackError": "curate.errors",
}
_RENAMED = {"open": "open_project"}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'curate' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
