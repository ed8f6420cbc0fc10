"""`[[pulls]]` of curate.toml: which trace store, which project, what to take from it.

```toml
[[pulls]]
name = "prod"                      # default: the kind
kind = "phoenix"                   # phoenix | langfuse
base_url = "http://127.0.0.1:6006"
project = "support-bot"            # Phoenix: project name or id; Langfuse: implied by the keys
api_key_env = "PHOENIX_API_KEY"    # the NAME of the variable that holds the key, never the key
task = "ticket_triage"
start = "2026-11-01T00:00:00Z"     # nothing older is pulled
[pulls.filter]
span_kind = ["LLM"]                # Phoenix; name = [...], model = [...], tags = [...] (Langfuse)
```
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from curate.core.errors import ConfigError

KINDS = ("phoenix", "langfuse")
DEFAULT_PAGE_SIZE = {"phoenix": 1000, "langfuse": 100}  # Langfuse pages at most 100 traces
# Re-read after the last cursor, then deduplicated (see curate/ingest/pull/__init__.py):
DEFAULT_OVERLAP = {"phoenix": 1000, "langfuse": 10}  # Phoenix: span ids; Langfuse: minutes


@dataclass(frozen=True)
class PullSpec:
    name: str
    kind: str
    base_url: str
    project: str | None = None
    api_key_env: str | None = None
    public_key_env: str | None = None  # Langfuse: its keys are a pair
    task: str | None = None
    start: datetime | None = None
    filter: dict[str, list[str]] = field(default_factory=dict)
    page_size: int = 100
    overlap: int = 0
    timeout_s: float = 60.0
    max_retries: int = 5

    @property
    def where(self) -> str:
        """The store in messages: "Phoenix at http://127.0.0.1:6006"."""
        return f"{self.kind.capitalize()} at {self.base_url}"

    def secret(self, env: str | None, what: str) -> str | None:
        """The key from the environment variable the pull names; never in the config."""
        if not env:
            return None
        value = os.environ.get(env)
        if not value:
            raise ConfigError(
                f"[[pulls]] {self.name}: {what} = {env!r}, but {env} is not set; export it "
                "(the key stays in the environment, never in curate.toml)"
            )
        return value


def parse_time(value: Any, where: str) -> datetime:
    """An ISO 8601 time (a date alone is midnight UTC; no zone is UTC)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"{where} = {value!r} is not a date and time: give ISO 8601, e.g. 2026-11-01 or "
                "2026-11-01T08:00:00Z"
            ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def pull_specs(data: dict[str, Any]) -> list[PullSpec]:
    """The [[pulls]] of curate.toml (already checked against the config schema)."""
    specs: list[PullSpec] = []
    for entry in data.get("pulls", []):
        kind = entry["kind"]
        name = entry.get("name", kind)
        if any(s.name == name for s in specs):
            raise ConfigError(f"[[pulls]] name = {name!r} appears twice: give each pull a name")
        if kind == "phoenix" and not entry.get("project"):
            raise ConfigError(f'[[pulls]] {name}: a phoenix pull needs project = "..."')
        start = entry.get("start")
        specs.append(
            PullSpec(
                name=name,
                kind=kind,
                base_url=str(entry["base_url"]).rstrip("/"),
                project=entry.get("project"),
                api_key_env=entry.get("api_key_env"),
                public_key_env=entry.get("public_key_env"),
                task=entry.get("task"),
                start=parse_time(start, f"[[pulls]] {name}: start") if start else None,
                filter={k: [str(x) for x in v] for k, v in (entry.get("filter") or {}).items()},
                page_size=int(entry.get("page_size", DEFAULT_PAGE_SIZE[kind])),
                overlap=int(entry.get("overlap", DEFAULT_OVERLAP[kind])),
                timeout_s=float(entry.get("timeout_s", 60)),
                max_retries=int(entry.get("max_retries", 5)),
            )
        )
    return specs


def choose(specs: list[PullSpec], name: str | None) -> list[PullSpec]:
    """The pulls a `curate pull [NAME]` runs: all, or the one named (by name or kind)."""
    if name is None:
        if not specs:
            raise ConfigError(
                "curate.toml has no [[pulls]]: name the trace store to pull from, e.g.\n"
                '[[pulls]]\nkind = "phoenix"\nbase_url = "http://127.0.0.1:6006"\n'
                'project = "default"'
            )
        return specs
    chosen = [s for s in specs if s.name == name] or [s for s in specs if s.kind == name]
    if not chosen:
        known = ", ".join(s.name for s in specs) or "none"
        raise ConfigError(f"no [[pulls]] named {name!r} in curate.toml (there are: {known})")
    return chosen
