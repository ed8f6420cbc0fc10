"""The workspace's tables: each one's schema, and which command writes it.

Every table a stage reads or writes is registered here; `Workspace.read_table/write_table` go
through this registry, so a table is always read with its schema and a missing one says which
command to run first. Each schema is also shipped for people and validators as
`schemas/NAME.schema.json` (a test keeps the two the same).

`records` and `quarantine` are append-only folders of Parquet parts (ingest adds a part per
source); the others are one Parquet file each, replaced whole by the stage that writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curate.core.records import QUARANTINE_SCHEMA, RECORD_SCHEMA

# the questions every queue record asks: the `question` of the annotations and resolved tables
IS_FAILURE = "is_failure"
LABEL, CORRECTED = "label", "corrected_output"

FINDINGS_SCHEMA = pl.Schema(
    {
        "record_id": pl.String,
        "task": pl.String,
        "detector": pl.String,
        "failure_type": pl.String,
        "severity": pl.String,
        "evidence": pl.String,
        "triage": pl.String,  # config | infrastructure | safety | format | decision (triage.py)
    }
)

LABELS_SCHEMA = pl.Schema(
    {
        "record_id": pl.String,
        "task": pl.String,
        "label_raw": pl.String,
        "label": pl.String,
        "label_status": pl.String,
        "class": pl.String,
    }
)

CLUSTERS_SCHEMA = pl.Schema(
    {
        "record_id": pl.String,
        "cluster_id": pl.String,
        "cluster_size": pl.UInt32,
        "task": pl.String,
    }
)

TAGS_SCHEMA = pl.Schema({"record_id": pl.String, "field": pl.String, "tag": pl.String})
# the tags that name no edge case: nothing about the pair is hard (equal, both missing), or
# nothing is known but that the values differ
NOT_HARD = ("exact", "missing_both", "different")

CANDIDATES_SCHEMA = pl.Schema(
    {
        "record_id": pl.String,
        "task": pl.String,
        "class": pl.String,
        "failure_type": pl.String,
        "edge_case": pl.String,
        "stratum": pl.String,
        "cluster_id": pl.String,
        "is_control": pl.Boolean,
        "selected_by": pl.String,
        "rank": pl.Int64,
        "triage": pl.String,  # the record's triage class (null for a control)
    }
)

ANNOTATIONS_SCHEMA = pl.Schema(
    {
        "record_id": pl.String,
        "dataset": pl.String,
        "task": pl.String,
        "user_id": pl.String,
        "username": pl.String,
        "status": pl.String,
        "question": pl.String,
        "value": pl.String,  # JSON text of the answer
        "answered_at": pl.String,
        "pulled_at": pl.String,
    }
)

RESOLVED_SCHEMA = pl.Schema(
    {
        "record_id": pl.String,
        "question": pl.String,
        "value": pl.String,
        "annotators": pl.List(pl.String),
        "policy": pl.String,
        "discarded_by_someone": pl.Boolean,
    }
)


SUGGESTIONS_SCHEMA = pl.Schema(
    {
        "record_id": pl.String,
        "task": pl.String,
        "input_hash": pl.UInt64,
        "model": pl.String,
        "prompt_hash": pl.String,
        "label": pl.String,
        "corrected_output": pl.String,
        "score": pl.Float64,
        "answer": pl.String,
        "error": pl.String,
        "prompt_tokens": pl.Int64,
        "completion_tokens": pl.Int64,
        "asked_at": pl.Datetime("us", "UTC"),
    }
)


@dataclass(frozen=True)
class Table:
    name: str
    schema: pl.Schema
    how: str  # what writes it, said when the table is missing: "run `curate detect`"
    parts: bool = False  # an append-only folder of parts, not one file
    schema_file: str = ""  # schemas/NAME.schema.json unless named

    @property
    def json_schema(self) -> str:
        """The schema shipped for people and validators, in the package's schemas/."""
        return self.schema_file or f"{self.name}.schema.json"

    @property
    def file_name(self) -> str:
        return self.name if self.parts else f"{self.name}.parquet"


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table("records", RECORD_SCHEMA, "run `curate ingest`", True, "record.schema.json"),
        Table("quarantine", QUARANTINE_SCHEMA, "run `curate ingest`", parts=True),
        Table("findings", FINDINGS_SCHEMA, "run `curate detect`"),
        Table("labels", LABELS_SCHEMA, "run `curate detect`"),
        Table("clusters", CLUSTERS_SCHEMA, "run `curate balance`"),
        Table("tags", TAGS_SCHEMA, "run `curate balance`"),
        Table("candidates", CANDIDATES_SCHEMA, "run `curate balance`"),
        Table("annotations", ANNOTATIONS_SCHEMA, "label in Argilla, then run `curate queue pull`"),
        Table("resolved", RESOLVED_SCHEMA, "label in Argilla, then run `curate queue pull`"),
        Table("suggestions", SUGGESTIONS_SCHEMA, "configure [judge] and run `curate suggest`"),
    )
}


def table(name: str) -> Table:
    """The registered table; a KeyError naming the known ones for a name that is not."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no table {name!r}; the tables are {', '.join(TABLES)}") from None


SORTED_SLICE_ROWS = 500_000


def write_sorted(frame: pl.DataFrame, by: list[str], path: Path) -> None:
    """The frame's rows written in the order of `by` (ties in their order), a slice of the
    order at a time: a sorted copy of a 5M-row table is what took detect past 2 GB."""
    import pyarrow.parquet as pq

    order = frame.select(pl.arg_sort_by(by, maintain_order=True)).to_series()
    writer = None
    try:
        for start in range(0, len(order), SORTED_SLICE_ROWS):
            part = frame[order.slice(start, SORTED_SLICE_ROWS)].to_arrow()
            writer = writer or pq.ParquetWriter(path, part.schema, compression="zstd")
            writer.write_table(part)
    finally:
        if writer is not None:
            writer.close()


__all__ = [
    "ANNOTATIONS_SCHEMA",
    "CANDIDATES_SCHEMA",
    "CLUSTERS_SCHEMA",
    "FINDINGS_SCHEMA",
    "LABELS_SCHEMA",
    "NOT_HARD",
    "RESOLVED_SCHEMA",
    "SUGGESTIONS_SCHEMA",
    "TABLES",
    "TAGS_SCHEMA",
    "Table",
    "table",
    "write_sorted",
]
