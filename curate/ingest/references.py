"""References given with the logs (`curate ingest --references FILE`): read, matched to the
records by source_id, and corrected on records already in the workspace."""

from __future__ import annotations

import uuid
from pathlib import Path

import polars as pl

from curate.core.errors import InputError
from curate.core.workspace import Workspace
from curate.ingest.formats.base import Source


def load_references(path: str | Path) -> pl.DataFrame:
    """A references file (CSV, JSONL or Parquet with columns id, reference) as (id, reference)."""
    source = Source(path)
    name = source.name.lower()
    try:
        if name.endswith(".parquet") or source.sample().head[:4] == b"PAR1":
            frame = pl.read_parquet(source.path)
        elif name.endswith((".jsonl", ".ndjson", ".json")):
            frame = pl.read_ndjson(source.read_all(), infer_schema_length=None)
        else:
            frame = pl.read_csv(source.read_all(), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise InputError(
            f"{source.display}: cannot be read as a references table ({exc})."
        ) from None
    missing = {"id", "reference"} - set(frame.columns)
    if missing:
        raise InputError(
            f"{source.display}: a references file needs the columns `id` and `reference`; "
            f"missing {', '.join(sorted(missing))} (found: {', '.join(frame.columns)})."
        )
    frame = frame.select(
        pl.col("id").cast(pl.String).alias("source_id"),
        pl.col("reference").cast(pl.String).alias("_ref"),
    ).filter(pl.col("source_id").is_not_null())
    duplicated = frame.filter(pl.col("source_id").is_duplicated())
    if duplicated.height:
        first = duplicated["source_id"][0]
        raise InputError(
            f"{source.display}: id {first!r} appears more than once "
            f"({duplicated['source_id'].n_unique()} ids do); keep one reference per id."
        )
    return frame


REF_SCHEMA = {"record_id": pl.String, "reference": pl.String}


def correct_references(workspace: Workspace, given: pl.DataFrame) -> int:
    """Give records already in the workspace the references of `given` (record_id, reference)
    where theirs differ; the number of records changed. A reference given is never a null."""
    return correct_records(workspace, given.drop_nulls("reference"), ["reference"])


def correct_records(workspace: Workspace, given: pl.DataFrame, columns: list[str]) -> int:
    """Give records already in the workspace the values of `given` (record_id, *columns) where
    theirs differ in any of them; the number of records changed. A null in `given` is a value
    (it clears the stored one).

    A records part that holds such a record is written anew beside itself and put in its
    place in one journalled commit, so a reader sees the old part or the new one, whole.
    """
    given = given.unique("record_id", keep="last")
    if given.height == 0:
        return 0
    renamed = given.select("record_id", *[pl.col(c).alias(f"{c}_given") for c in columns])
    differs = pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"{c}_given")) for c in columns)
    changed = 0
    for part in workspace.parts("records"):
        stored = pl.scan_parquet(part).select("record_id", *columns)
        differ = (
            stored.join(renamed.lazy(), on="record_id")
            .filter(differs)
            .select("record_id", *[f"{c}_given" for c in columns])
            .collect()
        )
        if differ.height == 0:
            continue
        frame = pl.read_parquet(part)
        updated = frame.join(differ, on="record_id", how="left", maintain_order="left")
        found = pl.col("record_id").is_in(differ["record_id"].implode())
        updated = updated.with_columns(
            pl.when(found).then(pl.col(f"{c}_given")).otherwise(pl.col(c)).alias(c) for c in columns
        ).select(frame.columns)
        # staged where an interrupted run's leftovers are cleared (clear_stale_staging)
        folder = workspace.table_dir("records") / f".staging-{uuid.uuid4().hex[:12]}"
        folder.mkdir()
        updated.write_parquet(folder / "part.parquet")
        workspace.commit([(folder / "part.parquet", part)], [])
        folder.rmdir()
        changed += differ.height
    return changed


def apply_references(records: pl.DataFrame, refs: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    joined = records.join(refs, on="source_id", how="left", maintain_order="left")
    matched = joined.filter(pl.col("_ref").is_not_null())["source_id"].to_list()
    joined = joined.with_columns(
        pl.coalesce(pl.col("_ref"), pl.col("reference")).alias("reference")
    )
    return joined.drop("_ref"), matched
