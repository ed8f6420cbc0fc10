"""curate.toml: loading, validation against schemas/config.schema.json, and the init template."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from curate.core.errors import ConfigError


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped inside the package (schemas/NAME.schema.json)."""
    text = resources.files("curate").joinpath("schemas", f"{name}.schema.json").read_text()
    return json.loads(text)


SEED_MAX = 2**32 - 1  # seeds are 0 .. 4294967295, as numpy's and most tools' are


def check_range(
    option: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    *,
    high_open: bool = False,
) -> None:
    """A ConfigError unless low <= value <= high (value < high with high_open)."""
    too_low = low is not None and value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        bounds = (
            f"from {low:g} to {high:g}" + (" (not included)" if high_open else "")
            if low is not None and high is not None
            else f"at least {low:g}"
            if low is not None
            else f"at most {high:g}"
        )
        raise ConfigError(f"{option} {value!r}: must be {bounds}")


def _where(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


def _explain(error: jsonschema.ValidationError) -> str:
    """The validator's message, with a did-you-mean for unknown keys and words for patterns."""
    import difflib

    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(known))
        parts = []
        for key in unknown:
            close = difflib.get_close_matches(key, known, n=1)
            parts.append(
                f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            )
        if parts:
            return "; ".join(parts) + f". Keys here: {', '.join(known)}"
    if error.validator == "pattern" and error.validator_value == "\\S":
        return f"{error.instance!r} is blank: give a non-empty value"
    return error.message


@dataclass
class Config:
    """The parsed, validated curate.toml (an empty one when there is no file)."""

    path: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def tasks(self) -> dict[str, dict[str, Any]]:
        return self.data.get("tasks", {})

    def section(self, name: str) -> dict[str, Any]:
        return self.data.get(name, {})

    def require_task(self, name: str) -> dict[str, Any]:
        """The task's table, or a ConfigError that lists the tasks there are."""
        if name in self.tasks:
            return self.tasks[name]
        known = ", ".join(sorted(self.tasks)) or "none"
        where = self.path or "curate.toml (none found)"
        raise ConfigError(f"unknown task {name!r}: {where} defines {known}. Add [tasks.{name}].")


def _times_as_text(data: dict[str, Any]) -> None:
    """`[[pulls]] start = 2026-11-01` (a TOML date or datetime, unquoted) as the ISO text the
    schema and the pull read, as if it had been quoted."""
    import datetime as dt

    pulls = data.get("pulls")
    for entry in pulls if isinstance(pulls, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("start"), dt.date | dt.time):
            entry["start"] = entry["start"].isoformat()


def load_config(path: Path | None) -> Config:
    """Read and validate curate.toml; a missing path gives an empty config."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; run `curate init` to write one") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a folder; give the curate.toml file in it") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8: save it as UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _times_as_text(data)
    validator = jsonschema.Draft202012Validator(load_schema("config"))
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{path}: {_where(e)}: {_explain(e)}" for e in errors[:10]]
        raise ConfigError(
            "curate.toml does not follow schemas/config.schema.json:\n  " + "\n  ".join(lines)
        )
    return Config(path=path, data=data)


CONFIG_TEMPLATE = """\
# curate.toml: what a correct output looks like for each of your tasks.
# Reference: schemas/config.schema.json (shipped with curate). Records get their task at ingest:
#   curate ingest logs.jsonl --task entity_match

# workspace = ".curate"        # where curate keeps its tables (default: .curate next to this file)

# [tasks.entity_match]
# kind = "pair_match"          # classification | pair_match | extraction | generation
# labels = ["match", "non_match"]
# output_schema = "schemas/entity_match_output.schema.json"   # optional, for JSON outputs
#
# [tasks.entity_match.synonyms]  # other spellings, matched after normalizing case and punctuation
# match = ["yes", "same", "true", "1"]
# non_match = ["no", "different", "false", "0"]
#
# [tasks.entity_match.parse]     # how to read the label out of the output
# mode = "json"                  # json | prefix | regex
# field = "decision"             # json: the field that holds the label
#
# [tasks.entity_match.pair]      # pair_match only: where the two records are
# left = "metadata.left"
# right = "metadata.right"
# names = ["first_name", "surname"]
# dates = ["dob"]

# [detectors.refusal]           # per-detector settings, keyed by detector name
# patterns = ["i can't assist", "i cannot help"]

# [ingest]
# chunk_mb = 32                 # how much of a file is decoded at once

# [[pulls]]                     # `curate pull`: calls straight from a trace store, incrementally
# kind = "phoenix"              # phoenix | langfuse
# base_url = "http://127.0.0.1:6006"
# project = "default"           # Phoenix's project (Langfuse: its keys name the project)
# api_key_env = "PHOENIX_API_KEY"   # the variable that holds the key, never the key itself
# task = "entity_match"

# [argilla]                     # your own Argilla server (ARGILLA_API_URL / ARGILLA_API_KEY win)
# api_url = "http://127.0.0.1:6900"
"""
