"""Tasks: what a correct output looks like, read from curate.toml.

A task names its kind, its label vocabulary (with synonyms), how to read the label out of an
output (a JSON field, a prefix, or a regex), an optional JSON Schema for structured outputs and,
for pair_match, where the two records are. Records carry their task from ingest, or get it here
from a `[tasks.NAME.match]` rule.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from curate.core.config import Config
from curate.core.errors import ConfigError
from curate.core.text import label_key, label_key_of

F = TypeVar("F", pl.DataFrame, pl.LazyFrame)

KINDS = ("classification", "pair_match", "extraction", "generation")
LABEL_KINDS = ("classification", "pair_match")
MATCH_KEYS = ("model", "prompt_version", "source", "source_format")

# Columns detect adds to the records before the detectors see them.
LABEL_RAW, LABEL, LABEL_STATUS = "_label_raw", "_label", "_label_status"
OUTPUT_IS_JSON = "_output_is_json"


def output_is_json() -> pl.Expr:
    """The output parses as JSON (white space around it allowed); parsed once for all detectors."""
    text = pl.col("output").str.strip_chars()
    valid = text.str.json_path_match("$").is_not_null() | (text == "null")
    return valid.fill_null(False).alias(OUTPUT_IS_JSON)


@dataclass
class Task:
    name: str
    kind: str
    labels: list[str] = field(default_factory=list)
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    parse_mode: str = "prefix"
    parse_field: str | None = None
    parse_pattern: str | None = None
    case_sensitive: bool = False
    output_schema: dict[str, Any] | None = None
    output_schema_path: str | None = None
    pair: dict[str, Any] = field(default_factory=dict)
    match: dict[str, str] = field(default_factory=dict)
    # [tasks.NAME.answers]: references = "ignore" | "trust" | "audit", audit_share, audit_seed
    answers: dict[str, Any] = field(default_factory=dict)
    # [tasks.NAME.redact]: what personal data to replace, how, and where (curate/core/redact.py);
    # {} for the default policy, False for none
    redact: dict[str, Any] | bool = field(default_factory=dict)
    # [tasks.NAME.queue]: annotators (people per record), guidelines (Markdown, a file's read)
    queue: dict[str, Any] = field(default_factory=dict)
    _terms: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def references(self) -> str:
        """What a reference is worth here: ignore, trust or audit."""
        return str(self.answers.get("references", "ignore"))

    @property
    def has_labels(self) -> bool:
        return bool(self.labels)

    @property
    def wants_json(self) -> bool:
        """The output must be JSON: labels read from a JSON field, or a schema to follow."""
        return self.parse_mode == "json" or self.output_schema is not None

    def terms(self) -> dict[str, str]:
        """Normalized spelling -> label, for every label and synonym (folded once, together:
        a vocabulary can hold thousands of labels)."""
        if self._terms is None:
            pairs = [
                (s, label) for label in self.labels for s in [label, *self.synonyms.get(label, [])]
            ]
            spellings = pl.Series("s", [s for s, _ in pairs], dtype=pl.String)
            folded = pl.select(label_key(pl.lit(spellings), self.case_sensitive)).to_series()
            self._terms = dict(zip(folded.to_list(), [label for _, label in pairs], strict=True))
        return self._terms

    def label_prefixes(self) -> list[str]:
        """Every start of a normalized label or synonym, and "": what an output cut short
        could have grown into a label from."""
        return sorted({term[:i] for term in self.terms() for i in range(len(term) + 1)})

    def with_labels(self, records: F) -> F:
        """The records with _label_raw (what was read), _label (a label, or null) and
        _label_status: "ok", "out_of_vocab" (something was read, but no label or synonym),
        "unparseable" (nothing could be read), or null where there is no output to read.

        Computed in steps, each from the last, so every output is parsed once.
        """
        output = pl.col("output")
        has_output = (output.str.strip_chars().str.len_chars() > 0).fill_null(False)
        terms = self.terms()
        if self.parse_mode == "prefix":
            folded = pl.col("_folded")
            # the label is the spelling the output's first words are: of k words for a spelling
            # of k words (folded text has one space between words), the most words first, so
            # that "non match" wins over "non". One lookup per word count, whatever the labels.
            words = folded.str.split(" ")
            most = max(len(term.split(" ")) for term in terms)
            label = pl.coalesce(
                pl.when(words.list.len() >= k).then(
                    words.list.head(k)
                    .list.join(" ")
                    .replace_strict(terms, default=None, return_dtype=pl.String)
                )
                for k in range(most, 0, -1)
            )
            records = records.with_columns(
                pl.when(has_output).then(label_key(output, self.case_sensitive)).alias("_folded"),
                pl.when(has_output)
                .then(output.str.strip_chars().str.split("\n").list.first().str.slice(0, 200))
                .alias(LABEL_RAW),
            )
            records = records.with_columns(
                label.alias(LABEL), (folded.str.len_chars() > 0).alias("_readable")
            )
        else:
            if self.parse_mode == "json":
                raw = output.str.strip_chars().str.json_path_match(f"$.{self.parse_field}")
            else:
                flags = "" if self.case_sensitive else "(?i)"
                raw = output.str.extract(flags + (self.parse_pattern or ""), 1)
            records = records.with_columns(pl.when(has_output).then(raw).alias(LABEL_RAW))
            records = records.with_columns(
                label_key(pl.col(LABEL_RAW), self.case_sensitive)
                .replace_strict(terms, default=None, return_dtype=pl.String)
                .alias(LABEL),
                pl.col(LABEL_RAW).is_not_null().alias("_readable"),
            )
        status = (
            pl.when(~has_output)
            .then(None)
            .when(~pl.col("_readable"))
            .then(pl.lit("unparseable"))
            .when(pl.col(LABEL).is_null())
            .then(pl.lit("out_of_vocab"))
            .otherwise(pl.lit("ok"))
        )
        records = records.with_columns(status.alias(LABEL_STATUS))
        return records.drop("_readable", "_folded", strict=False)

    def class_of(self) -> pl.Expr:
        """The class a record is balanced as: its reference read as a label, else the label
        read from its output (over with_labels' columns)."""
        reference = label_key(pl.col("reference"), self.case_sensitive).replace_strict(
            self.terms(), default=None, return_dtype=pl.String
        )
        return pl.coalesce(reference, pl.col(LABEL))


def _queue_settings(spec: dict[str, Any], config: Config, task: str) -> dict[str, Any]:
    """[tasks.NAME.queue] with its guidelines read where they name a Markdown file."""
    from curate.core.errors import InputError
    from curate.core.text import read_text_file

    out = dict(spec)
    guidelines = out.get("guidelines")
    if isinstance(guidelines, str) and guidelines.strip().lower().endswith((".md", ".markdown")):
        base = config.path.parent if config.path else Path.cwd()
        full = (base / guidelines.strip()).resolve()
        if not full.is_file():
            raise ConfigError(
                f"[tasks.{task}.queue] guidelines = {guidelines!r}: no file at {full} (paths are "
                "relative to curate.toml; or write the guidelines themselves)"
            )
        try:
            out["guidelines"] = read_text_file(full, f"[tasks.{task}.queue] guidelines")
        except InputError as exc:
            raise ConfigError(str(exc)) from None
    return out


def _load_schema(path: str, config: Config, task: str) -> dict[str, Any]:
    from curate.core.errors import InputError
    from curate.core.text import read_text_file

    base = config.path.parent if config.path else Path.cwd()
    full = (base / path).resolve()
    if not full.exists():
        raise ConfigError(
            f"[tasks.{task}] output_schema = {path!r}: no file at {full} (paths are relative to "
            "curate.toml)"
        )
    try:
        schema = json.loads(read_text_file(full, f"[tasks.{task}] output_schema"))
    except InputError as exc:
        raise ConfigError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"[tasks.{task}] output_schema {full}: not valid JSON ({exc})") from None
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ConfigError(
            f"[tasks.{task}] output_schema {full}: not a valid JSON Schema: {exc.message}"
        ) from None
    return schema


def _check_spellings(
    task: str, labels: list[str], synonyms: dict[str, list[str]], case_sensitive: bool
) -> None:
    """Every label and synonym must be readable after normalization, and mean one label."""
    meaning: dict[str, str] = {}
    for label in labels:
        for spelling in [label, *synonyms.get(label, [])]:
            term = label_key_of(spelling, case_sensitive)
            if not term:
                raise ConfigError(
                    f"[tasks.{task}] {spelling!r} has no letters or digits: outputs are compared "
                    "with case, punctuation and spacing folded, so it could never be read"
                )
            if meaning.setdefault(term, label) != label:
                raise ConfigError(
                    f"[tasks.{task}] {spelling!r} (for {label!r}) reads the same as a spelling "
                    f"of {meaning[term]!r} once case and punctuation are folded: keep one"
                )


def check_pattern(task: str, pattern: str | None) -> None:
    """A parse pattern that polars' regex engine (Rust `regex`, the one detect runs) compiles,
    with a group for the label; else a ConfigError that says what that engine lacks."""
    where = f"[tasks.{task}.parse] pattern"
    if not pattern:
        raise ConfigError(f"{where}: mode = \"regex\" needs pattern = '...'")
    try:
        pl.Series([""], dtype=pl.String).str.extract(pattern, 1)
    except pl.exceptions.PolarsError as exc:
        detail = next(
            (line.strip() for line in str(exc).splitlines() if line.strip().startswith("error:")),
            str(exc).splitlines()[0],
        )
        raise ConfigError(
            f"{where} {pattern!r} is not a regex curate can run ({detail.removeprefix('error: ')})."
            " Patterns run on Rust's regex engine: no look-around ((?=...), (?<=...)) and no "
            "back-references (\\1); character classes, groups, alternation, \\b and (?i) work."
        ) from None
    groups = pl.select(pl.lit("").str.extract_groups(pattern)).to_series().struct.fields
    if not groups:
        raise ConfigError(f"{where} {pattern!r} has no group: group 1 is the label")


def check_field(task: str, field_path: str) -> None:
    """A parse field that is a JSON path polars can follow ("decision", "result.label",
    "labels[0]"), else a ConfigError naming the key."""
    try:
        pl.Series(["{}"], dtype=pl.String).str.json_path_match(f"$.{field_path}")
    except pl.exceptions.PolarsError:
        raise ConfigError(
            f"[tasks.{task}.parse] field = {field_path!r} is not a JSON path: name the key "
            'that holds the label, e.g. "decision", or a nested one, "result.label"'
        ) from None


def load_tasks(config: Config) -> dict[str, Task]:
    """The tasks of curate.toml, checked beyond what the config schema can say."""
    tasks: dict[str, Task] = {}
    for name, spec in config.tasks.items():
        parse = spec.get("parse", {})
        labels = list(spec.get("labels", []))
        mode = parse.get("mode", "json" if spec.get("kind") == "extraction" else "prefix")
        synonyms = dict(spec.get("synonyms", {}))
        unknown = sorted(set(synonyms) - set(labels))
        if unknown:
            raise ConfigError(
                f"[tasks.{name}.synonyms] names {', '.join(unknown)}, which are not in labels "
                f"({', '.join(labels) or 'none'}). Synonyms are keyed by the label they mean."
            )
        _check_spellings(name, labels, synonyms, bool(parse.get("case_sensitive", False)))
        if spec["kind"] in LABEL_KINDS and not labels:
            raise ConfigError(f"[tasks.{name}] is a {spec['kind']} task: give its labels = [...]")
        if mode == "json" and labels and not parse.get("field"):
            raise ConfigError(
                f'[tasks.{name}.parse] mode = "json" needs field = "..." (the label\'s key)'
            )
        if mode == "json" and parse.get("field"):
            check_field(name, parse["field"])
        if mode == "regex":
            check_pattern(name, parse.get("pattern"))
        match = dict(spec.get("match", {}))
        unknown_keys = sorted(set(match) - set(MATCH_KEYS))
        if unknown_keys:
            raise ConfigError(
                f"[tasks.{name}.match] has {', '.join(unknown_keys)}; rules match on "
                f"{', '.join(MATCH_KEYS)} (glob patterns)"
            )
        schema_path = spec.get("output_schema")
        tasks[name] = Task(
            name=name,
            kind=spec["kind"],
            labels=labels,
            synonyms=synonyms,
            parse_mode=mode,
            parse_field=parse.get("field"),
            parse_pattern=parse.get("pattern"),
            case_sensitive=bool(parse.get("case_sensitive", False)),
            output_schema=_load_schema(schema_path, config, name) if schema_path else None,
            output_schema_path=schema_path,
            pair=dict(spec.get("pair", {})),
            match=match,
            answers=dict(spec.get("answers", {})),
            redact=spec.get("redact", {}) if spec.get("redact") is not True else {},
            queue=_queue_settings(spec.get("queue", {}), config, name),
        )
    return tasks


def assign_tasks(records: pl.LazyFrame, tasks: dict[str, Task]) -> pl.LazyFrame:
    """Records without a task get the first task whose [tasks.NAME.match] rule they meet."""
    rules = [(t.name, t.match) for t in tasks.values() if t.match]
    if not rules:
        return records
    assigned = pl.lit(None, pl.String)
    for name, match in reversed(rules):
        condition = pl.lit(True)
        for key, pattern in match.items():
            # Python's \Z is Rust regex's \z
            regex = "^" + fnmatch.translate(pattern).replace("\\Z", "\\z")
            condition &= pl.col(key).str.contains(regex).fill_null(False)
        assigned = pl.when(condition).then(pl.lit(name)).otherwise(assigned)
    return records.with_columns(pl.coalesce(pl.col("task"), assigned).alias("task"))
