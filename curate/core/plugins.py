"""Plugins: detectors, log formats and export formats all come in through entry points.

A package registers one under the group of its kind, in its pyproject.toml:

    [project.entry-points."curate.detectors"]    # a Detector subclass
    my_check = "my_package.checks:MyCheck"

    [project.entry-points."curate.formats"]      # a LogFormat subclass
    my_logs = "my_package.logs:MyLogs"

    [project.entry-points."curate.exporters"]    # an Exporter subclass
    my_sft = "my_package.sft:MySft"

    [project.entry-points."curate.queues"]       # connect(config) -> a QueueBackend
    my_queue = "my_package.labels:connect"

curate's own are registered the same way, in its pyproject.toml. The entry point's name is the
class's `name`; two plugins of one kind cannot share a name.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TypeVar

from curate.core.errors import ConfigError

T = TypeVar("T")


def load_group(group: str, base: type[T], kind: str) -> dict[str, type[T]]:
    """Every class registered under `group`, by name: curate's own first, then the others,
    each set in the order of its names. Anything wrong is a ConfigError that says what to do."""
    found: dict[str, type[T]] = {}
    origin: dict[str, str] = {}
    points = sorted(
        entry_points(group=group), key=lambda ep: (not ep.value.startswith("curate."), ep.name)
    )
    for point in points:
        try:
            cls = point.load()
        except Exception as exc:
            raise ConfigError(
                f"the {kind} plugin {point.name!r} ({point.value}) cannot be loaded: {exc}. "
                "Fix or uninstall the package that provides it."
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise ConfigError(
                f"the entry point {point.name!r} ({point.value}) of {group} is not a curate "
                f"{base.__name__}"
            )
        name = getattr(cls, "name", None)
        if name != point.name:
            raise ConfigError(
                f"the entry point {point.name!r} ({point.value}) loads a {kind} named "
                f"{name!r}; the two names must be the same"
            )
        if name in found:
            raise ConfigError(
                f"two {kind}s are named {name!r}: {origin[name]} and {point.value}; "
                "uninstall one or rename it"
            )
        found[name] = cls
        origin[name] = point.value
    if not found:
        raise ConfigError(
            f"no {kind}s are registered: curate is not installed as a package (run `make install`)"
        )
    return found


def load_function(group: str, name: str, kind: str):
    """The function registered as `name` under `group` (a queue backend's connect); a
    ConfigError naming the ones there are when none is."""
    points = {point.name: point for point in entry_points(group=group)}
    if name not in points:
        known = sorted(points)
        raise ConfigError(
            f"no {kind} is named {name!r}: {did_you_mean(name, known)}the ones installed are "
            f"{', '.join(known) or 'none (run `make install`)'}"
        )
    try:
        return points[name].load()
    except Exception as exc:
        raise ConfigError(
            f"the {kind} plugin {name!r} ({points[name].value}) cannot be loaded: {exc}. "
            "Fix or uninstall the package that provides it."
        ) from exc


def did_you_mean(name: str, names: list[str]) -> str:
    """ "did you mean 'x'? " for the nearest of `names`, or "" when none is near."""
    import difflib

    close = difflib.get_close_matches(name, names, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


__all__ = ["did_you_mean", "load_function", "load_group"]
