"""What `curate ingest` answers: per source (SourceSummary) and for the run (IngestResult)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SourceSummary:
    path: str
    format: str
    sha256: str = ""
    ingested: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    requests: int = 0  # Batch input files: requests read to join with their outputs
    pull: dict[str, Any] | None = None  # a page of `curate pull`: its pull and cursor


@dataclass
class IngestResult:
    """What one `curate ingest` did, in numbers (the CLI prints it; --json dumps it)."""

    ingested: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    by_format: dict[str, int] = field(default_factory=dict)
    by_task: dict[str, int] = field(default_factory=dict)
    by_model: dict[str, int] = field(default_factory=dict)
    references: dict[str, int] = field(default_factory=dict)
    sources: list[SourceSummary] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    engine: str = "local"

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "ingested": self.ingested,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "skipped": self.skipped,
            "by_format": self.by_format,
            "by_task": self.by_task,
            "by_model": self.by_model,
            "references": self.references,
            "sources": [vars(s) for s in self.sources],
            "warnings": self.warnings,
        }
