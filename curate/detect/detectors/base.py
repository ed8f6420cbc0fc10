"""The detector base class: a name, declared options, one method; the rest is derived.

A detector looks at the records of one task (a polars LazyFrame with the canonical columns but
`messages`, which a detector must ask for in `extra_columns`, and the label columns of
curate.core.tasks) and returns the failing ones with evidence a person can read. It never imports an
execution engine: it is a polars transform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from curate.core.errors import ConfigError
from curate.core.tasks import Task

SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True)
class Option:
    """One config key of a detector: `[detectors.NAME] key = value` in curate.toml."""

    default: Any
    help: str


class Detector:
    """Subclass, set `name`, `description` (one line), `options`, and implement `find`.

    - `failure_type` defaults to `name`; `severity` to "medium".
    - `kinds`: the task kinds it applies to; None means any task, and records with no task.
    - `requires`: a property of the task it needs ("labels", "json", "schema"), if any.
    Register it under the entry point group `curate.detectors` (built-ins do the same).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    failure_type: ClassVar[str]
    severity: ClassVar[str] = "medium"
    options: ClassVar[dict[str, Option]] = {}
    kinds: ClassVar[tuple[str, ...] | None] = None
    requires: ClassVar[str | None] = None
    extra_columns: ClassVar[tuple[str, ...]] = ()  # e.g. ("messages",): not read unless asked
    # the triage class of its findings when no rule of curate.core.triage names the detector
    triage: ClassVar[str] = "decision"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and "failure_type" not in cls.__dict__:
            cls.failure_type = cls.name
        if cls.severity not in SEVERITIES:
            raise TypeError(f"{cls.__name__}.severity must be one of {SEVERITIES}")

    def __init__(self, settings: dict[str, Any] | None = None):
        settings = dict(settings or {})
        unknown = sorted(set(settings) - set(self.options))
        if unknown:
            valid = ", ".join(sorted(self.options)) or "none"
            raise ConfigError(
                f"[detectors.{self.name}] has no key {', '.join(map(repr, unknown))}; "
                f"its keys: {valid}"
            )
        self.settings = {key: settings.get(key, opt.default) for key, opt in self.options.items()}
        for key, value in settings.items():
            problem = _type_problem(value, self.options[key].default)
            if problem:
                raise ConfigError(f"[detectors.{self.name}] {key} = {value!r}: {problem}")

    def not_applicable(self, task: Task | None) -> str | None:
        """Why this detector does not apply to the task's records, or None when it does."""
        if self.kinds is not None:
            if task is None:
                return "records have no task (set one with curate ingest --task)"
            if task.kind not in self.kinds:
                return f"applies to {' and '.join(self.kinds)} tasks, not {task.kind}"
        if self.requires == "labels" and (task is None or not task.has_labels):
            return "the task has no label vocabulary"
        if self.requires == "json" and (task is None or not task.wants_json):
            return "the task does not ask for JSON output"
        if self.requires == "schema" and (task is None or task.output_schema is None):
            return "the task has no output_schema"
        return None

    def find(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        """The failing records: a frame with `record_id` and `evidence` (and, optionally,
        `severity` per row)."""
        raise NotImplementedError

    def run(self, records: pl.LazyFrame, task: Task | None) -> pl.LazyFrame:
        """find() with the detector's columns added, in the findings schema."""
        found = self.find(records, task)
        severity = (
            pl.col("severity") if "severity" in found.collect_schema() else pl.lit(self.severity)
        )
        return found.select(
            pl.col("record_id"),
            pl.lit(task.name if task else None, pl.String).alias("task"),
            pl.lit(self.name).alias("detector"),
            pl.lit(self.failure_type).alias("failure_type"),
            severity.alias("severity"),
            pl.col("evidence").cast(pl.String),
        )


def _type_problem(value: Any, default: Any) -> str | None:
    """Why `value` cannot stand where `default` does (same type; a list of the same element
    type), or None when it can. An int may stand for a float; a bool for nothing else."""
    if default is None:
        return None
    expected = type(default)
    fits = isinstance(value, expected) and (isinstance(value, bool) == isinstance(default, bool))
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        fits = True
    if not fits:
        return f"expected a {expected.__name__}, like the default {default!r}"
    if isinstance(default, list):
        element = type(default[0]) if default else str
        for i, item in enumerate(value):
            if not isinstance(item, element) or isinstance(item, bool) != (element is bool):
                return (
                    f"item {i + 1} ({item!r}) is a {type(item).__name__}; every item must be a "
                    f"{element.__name__}, like the default {default!r}"
                )
    return None


def quote(expr: pl.Expr, limit: int = 80) -> pl.Expr:
    """A value for evidence text: quoted, cut at `limit` characters."""
    cut = (
        pl.when(expr.str.len_chars() > limit)
        .then(expr.str.slice(0, limit) + pl.lit("…"))
        .otherwise(expr)
    )
    return pl.lit("'") + cut + pl.lit("'")
