"""What `curate balance` is asked (BalanceSettings, with its quotas and the clustering's
settings: the CLI's options and their defaults) and what it answers (BalanceResult)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from curate.core.errors import ConfigError

QUOTA_KEYS = ("class", "failure_type", "edge_case")


@dataclass(frozen=True)
class Quota:
    key: str
    value: str
    share: float

    @classmethod
    def parse(cls, text: str) -> Quota:
        parts = text.split("=")
        if len(parts) != 3:
            raise ConfigError(
                f"--quota {text!r}: write KEY=VALUE=SHARE, e.g. edge_case=nickname=0.1"
            )
        key, value, share = parts
        if key not in QUOTA_KEYS:
            raise ConfigError(f"--quota {text!r}: KEY is one of {', '.join(QUOTA_KEYS)}")
        try:
            number = float(share)
        except ValueError:
            raise ConfigError(f"--quota {text!r}: SHARE must be a number between 0 and 1") from None
        if not 0 < number <= 1:
            raise ConfigError(f"--quota {text!r}: SHARE must be between 0 and 1")
        return cls(key, value, number)


@dataclass(frozen=True)
class ClusterSettings:
    cutoff: float = 90.0  # rapidfuzz token_sort_ratio, 0-100
    max_df: float = 0.01  # words in more of the distinct texts than this are template


@dataclass
class BalanceSettings:
    target: int = 1000
    seed: int = 0
    class_ratio: dict[str, float] | None = None  # default: the classes in equal shares
    max_per_cluster: int = 2
    controls: float = 0.1
    quotas: list[Quota] = field(default_factory=list)
    task: str | None = None
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    # config and infrastructure failures (triage.py) are left out unless this is set
    include_config_failures: bool = False


@dataclass
class BalanceResult:
    """What `curate balance` chose, per task (the CLI prints it; --json dumps it)."""

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    clusters: int = 0
    records: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))
