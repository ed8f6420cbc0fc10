"""The detector registry: built-ins and plugins both come in through entry points.

A package registers a detector under the entry point group `curate.detectors`:

    [project.entry-points."curate.detectors"]
    my_check = "my_package.checks:MyCheck"

curate's own detectors are registered the same way, in its pyproject.toml.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib.metadata import entry_points

from curate.config import Config
from curate.detectors.base import Detector, Option
from curate.errors import ConfigError
from curate.tables import FINDINGS_SCHEMA

GROUP = "curate.detectors"

__all__ = ["FINDINGS_SCHEMA", "GROUP", "Detector", "Option", "available", "build_detectors"]


@cache
def available() -> dict[str, type[Detector]]:
    """Every registered detector class by name, built-ins first."""
    found: dict[str, type[Detector]] = {}
    origin: dict[str, str] = {}
    points = sorted(
        entry_points(group=GROUP), key=lambda ep: (not ep.value.startswith("curate."), ep.name)
    )
    for point in points:
        try:
            cls = point.load()
        except Exception as exc:
            raise ConfigError(
                f"the detector plugin {point.name!r} ({point.value}) cannot be loaded: {exc}. "
                "Fix or uninstall the package that provides it."
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Detector)):
            raise ConfigError(
                f"the entry point {point.name!r} ({point.value}) is not a curate Detector"
            )
        if cls.name != point.name:
            raise ConfigError(
                f"the entry point {point.name!r} ({point.value}) loads a detector named "
                f"{cls.name!r}; the two names must be the same"
            )
        if cls.name in found:
            raise ConfigError(
                f"two detectors are named {cls.name!r}: {origin[cls.name]} and {point.value}; "
                "uninstall one or rename it"
            )
        found[cls.name] = cls
        origin[cls.name] = point.value
    if not found:
        raise ConfigError(
            "no detectors are registered: curate is not installed as a package (run `make install`)"
        )
    return found


def _unknown(name: str, what: str) -> ConfigError:
    names = sorted(available())
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
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
