from __future__ import annotations

import json
from typing import Any, ClassVar

import polars as pl

from curate.core.tasks import OUTPUT_IS_JSON, Task
from curate.detect.detectors.base import Detector


def _violations(schema: dict[str, Any]):
    """A batch function: each distinct output validated once by a compiled validator."""
    import fastjsonschema
    import jsonschema

    fast = fastjsonschema.compile(schema)
    explain = jsonschema.validators.validator_for(schema)(schema)

    def check(outputs: pl.Series) -> pl.Series:
        verdicts: dict[str, str | None] = {}
        for text in outputs.unique().drop_nulls().to_list():
            value = json.loads(text)
            try:
                fast(value)
                verdicts[text] = None
            except fastjsonschema.JsonSchemaException:
                error = jsonschema.exceptions.best_match(explain.iter_errors(value))
                path = "$" + "".join(
                    f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path
                )
                verdicts[text] = f"{path}: {error.message} (rule: {error.validator})"
        return outputs.replace_strict(verdicts, default=None, return_dtype=pl.String)

    return check


class SchemaViolation(Detector):
    name: ClassVar[str] = "schema_violation"
    description: ClassVar[str] = "the output parses as JSON but breaks the task's output_schema"
    severity: ClassVar[str] = "high"
    requires: ClassVar[str | None] = "schema"

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        assert task is not None and task.output_schema is not None
        output = pl.col("output").str.strip_chars()
        valid = records.filter(pl.col(OUTPUT_IS_JSON))
        checked = valid.select(
            "record_id",
            output.map_batches(_violations(task.output_schema), return_dtype=pl.String).alias(
                "evidence"
            ),
        )
        return checked.filter(pl.col("evidence").is_not_null())
