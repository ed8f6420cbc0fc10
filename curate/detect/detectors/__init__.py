"""The detector registry: built-ins and plugins both come in through the entry point group
`curate.detectors` (see curate.core.plugins)."""

from __future__ import annotations

from functools import cache
from typing import Any

from curate.core.config import Config
from curate.core.errors import ConfigError
from curate.core.plugins import did_you_mean, load_group
from curate.core.tables import FINDINGS_SCHEMA
from curate.detect.detectors.base import Detector, Option

GROUP = "curate.detectors"

__all__ = [
    "FINDINGS_SCHEMA",
    "GROUP",
    "Detector",
    "Option",
    "available",
    "build_detectors",
    "describe",
]


@cache
def available() -> dict[str, type[Detector]]:
    """Every registered detector class by name, built-ins first."""
    return load_group(GROUP, Detector, "detector")


def describe() -> list[dict[str, Any]]:
    """Every registered detector as data: what it finds, where it applies, its config keys."""
    return [
        {
            "name": cls.name,
            "description": cls.description,
            "failure_type": cls.failure_type,
            "severity": cls.severity,
            "applies_to": list(cls.kinds) if cls.kinds else "any task",
            "requires": cls.requires,
            "options": {k: {"default": o.default, "help": o.help} for k, o in cls.options.items()},
            "module": cls.__module__,
        }
        for cls in available().values()
    ]


def _unknown(name: str, what: str) -> ConfigError:
    names = sorted(available())
    hint = did_you_mean(name, names)
    return ConfigError(f"unknown detector {name!r} in {what}; {hint}available: {', '.join(names)}")


def build_detectors(config: Config, only: list[str] | None = None) -> list[Detector]:
    """The detectors to run, configured from [detectors.NAME]; unknown names are errors."""
    registry = available()
    settings = config.section("detectors")
    for name in settings:
        if name not in registry:
            raise _unknown(name, f"[detectors.{name}] of curate.toml")
    for name in only or []:
        if name not in registry:
            raise _unknown(name, "--only")
    names = only or list(registry)
    return [registry[name](settings.get(name)) for name in names]
