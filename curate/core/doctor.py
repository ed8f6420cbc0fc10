"""`curate doctor`: is every file of the workspace readable? And, with --fix, the damaged ones
moved aside (into `damaged/`, never deleted) so that the rest stays usable.

A file cut short (a disk that filled, a copy that stopped) or overwritten with something else
makes polars fail deep inside a scan, naming no file. The doctor reads each table part and table
file whole and the manifest, and says which are damaged and why. Commands that fail on a
damaged file run the same check to name it (curate/cli/main.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.core.tables import TABLES
from curate.core.workspace import (
    SCHEMA_VERSION,
    Workspace,
    atomic_write_bytes,
    manifest_problem,
    now_utc,
)

DAMAGED_DIR = "damaged"


@dataclass
class Damage:
    path: str  # relative to the workspace
    problem: str


@dataclass
class DoctorResult:
    workspace: str
    checked: int = 0
    damaged: list[Damage] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # where each damaged file went (--fix)
    manifest_rebuilt: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "checked": self.checked,
            "damaged": [vars(d) for d in self.damaged],
            "moved": self.moved,
            "manifest_rebuilt": self.manifest_rebuilt,
        }


def manifest_file_problem(path: Path) -> str | None:
    """Why the manifest file cannot be used, or None when it can."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        return f"not JSON ({exc})"
    return manifest_problem(data)


def parquet_problem(path: Path, whole: bool = True) -> str | None:
    """Why a Parquet file cannot be read (whole, or only its footer: cheap, and enough for a
    file cut short or overwritten), or None when it can."""
    import pyarrow.parquet as pq

    try:
        if whole:
            pq.ParquetFile(path).read()
        else:
            pq.read_metadata(path)
    except Exception as exc:  # pyarrow raises several types for damaged files
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return None


def table_files(workspace: Workspace) -> list[Path]:
    """Every Parquet file of the workspace's registered tables."""
    files: list[Path] = []
    for name, spec in TABLES.items():
        if spec.parts:
            files += workspace.parts(name)
        elif workspace.table_path(name).is_file():
            files.append(workspace.table_path(name))
    return files


def find_damage(workspace: Workspace, whole: bool = True) -> DoctorResult:
    """Check the manifest and every table file (read whole, or only their footers); nothing
    is changed."""
    result = DoctorResult(str(workspace.root))
    files = table_files(workspace)
    result.checked = len(files) + 1
    if workspace.manifest_path.is_file():
        problem = manifest_file_problem(workspace.manifest_path)
        if problem:
            result.damaged.append(Damage("manifest.json", problem))
    for path in files:
        problem = parquet_problem(path, whole)
        if problem:
            result.damaged.append(Damage(str(path.relative_to(workspace.root)), problem))
    return result


def repair(workspace: Workspace) -> DoctorResult:
    """find_damage, then move every damaged file into `damaged/` (its path kept); a damaged
    manifest is replaced by an empty one (the records stay: a re-ingest adds nothing twice)."""
    with workspace.lock("doctor"):
        result = find_damage(workspace)
        for damage in result.damaged:
            source = workspace.root / damage.path
            target = workspace.root / DAMAGED_DIR / f"{damage.path}.{now_utc():%Y%m%dT%H%M%S}"
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            result.moved.append(str(target.relative_to(workspace.root)))
            if damage.path == "manifest.json":
                fresh = {
                    "schema_version": SCHEMA_VERSION,
                    "created_at": now_utc().isoformat(),
                    "rebuilt_by": "curate doctor --fix",
                    "sources": [],
                    "runs": [],
                }
                atomic_write_bytes(workspace.manifest_path, json.dumps(fresh, indent=2).encode())
                result.manifest_rebuilt = True
    return result


def name_the_damage(workspace: Workspace) -> str | None:
    """For a command that failed reading the workspace: which files are damaged, and what to
    do; None when every file reads (the failure was something else)."""
    if not workspace.exists:
        return None
    # footers only: this runs after any failure, and a big workspace's files are gigabytes
    found = find_damage(workspace, whole=False)
    if not found.damaged:
        return None
    listed = "; ".join(f"{d.path}: {d.problem}" for d in found.damaged[:5])
    more = f" (and {len(found.damaged) - 5} more)" if len(found.damaged) > 5 else ""
    return (
        f"the workspace {workspace.root} has damaged files: {listed}{more}. Run `curate doctor "
        "--fix` to move them aside into damaged/ (nothing is deleted); then re-run the stage "
        "that wrote them (ingest again for records or quarantine parts: only what is missing "
        "is added)"
    )


__all__ = ["DoctorResult", "find_damage", "name_the_damage", "repair"]
