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
    "open": "curate.core.project",
    "Project": "curate.core.project",
    "Config": "curate.core.config",
    "load_config": "curate.core.config",
    "Task": "curate.core.tasks",
    "Workspace": "curate.core.workspace",
    "read_table": "curate.core.project",
    "Engine": "curate.core.engine",
    # the stages
    "ingest_logs": "curate.ingest.stage",
    "IngestResult": "curate.ingest.stage",
    "find_failures": "curate.detect.stage",
    "DetectResult": "curate.detect.stage",
    "balance_candidates": "curate.balance.stage",
    "BalanceSettings": "curate.balance.stage",
    "BalanceResult": "curate.balance.stage",
    "push_queue": "curate.queue.stage",
    "pull_queue": "curate.queue.stage",
    "queue_status": "curate.queue.stage",
    "export_dataset": "curate.export.stage",
    "ExportSettings": "curate.export.stage",
    "ExportResult": "curate.export.stage",
    "build_report": "curate.report.stage",
    "run_pipeline": "curate.run",
    # the plugin base classes (entry points curate.detectors, .formats, .edge_cases, .exporters):
    # import them from here, wherever they live inside the package
    "Detector": "curate.detect.detectors.base",
    "Option": "curate.detect.detectors.base",
    "LogFormat": "curate.ingest.formats.base",
    "Tagger": "curate.balance.taggers",
    "ValueTagger": "curate.balance.taggers",
    "Exporter": "curate.export.exporters",
    # the errors
    "CurateError": "curate.core.errors",
    "ConfigError": "curate.core.errors",
    "WorkspaceError": "curate.core.errors",
    "WorkspaceLocked": "curate.core.errors",
    "MissingTableError": "curate.core.errors",
    "InputError": "curate.core.errors",
    "UnknownFormat": "curate.core.errors",
    "QueueError": "curate.core.errors",
    "ExportError": "curate.core.errors",
    "TooFewExamples": "curate.core.errors",
    "StackError": "curate.core.errors",
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
