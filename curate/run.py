"""`curate run`: the whole job, each stage skipped when its inputs have not changed.

ingest ([[sources]] of curate.toml) -> detect -> balance -> queue push, and once people have
answered in Argilla: queue pull -> export. The manifest keeps a fingerprint of each stage's
inputs; a stage whose fingerprint is unchanged since its last run is skipped, with the reason.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.core.config import Config
from curate.core.errors import ConfigError, CurateError, TooFewExamples
from curate.core.project import Project
from curate.core.workspace import Workspace

Say = Callable[[str], None]


@dataclass
class RunResult:
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _file_state(path: Path) -> tuple[str, int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return (str(path), stat.st_size, stat.st_mtime_ns)


def _sources(config: Config) -> list[dict[str, Any]]:
    """[[sources]] with globs expanded, paths relative to curate.toml made absolute."""
    base = config.path.parent if config.path else Path.cwd()
    out = []
    for entry in config.data.get("sources", []):
        matches = sorted(glob.glob(str(base / entry["path"])))
        if not matches:
            raise ConfigError(f"[[sources]] path = {entry['path']!r} matches no file under {base}")
        references = base / entry["references"] if entry.get("references") else None
        out.append({**entry, "files": matches, "references": references})
    if not out:
        raise ConfigError(
            "curate.toml has no [[sources]]: list the logs `curate run` ingests, e.g.\n"
            '[[sources]]\npath = "logs/*.jsonl.gz"\ntask = "entity_match"'
        )
    return out


class Pipeline:
    def __init__(self, workspace: Workspace, config: Config, say: Say):
        self.workspace, self.config, self.say = workspace, config, say
        self.settings = config.section("run")
        self.result = RunResult()

    def _last(self, stage: str) -> str | None:
        return self.workspace.manifest().get("fingerprints", {}).get(stage)

    def _remember(self, stage: str, fingerprint: str) -> None:
        with self.workspace.lock(f"run ({stage})"):
            manifest = self.workspace.manifest()
            manifest.setdefault("fingerprints", {})[stage] = fingerprint
            self.workspace.write_manifest(manifest)

    def stage(
        self, name: str, fingerprint: str | None, action: Callable[[], dict[str, Any]]
    ) -> bool:
        """Run `action` unless its fingerprint is the last one; record what happened."""
        if fingerprint is not None and fingerprint == self._last(name):
            self.result.stages[name] = {
                "ran": False,
                "why": "its inputs have not changed since its last run",
            }
            self.say(f"[dim]{name}: skipped, inputs unchanged[/]")
            return True
        self.say(f"[bold]{name}[/] ...")
        try:
            summary = action()
        except TooFewExamples as exc:  # not a failure: the labelling is not far enough yet
            self.result.stages[name] = {"ran": False, "why": str(exc)}
            self.say(f"[yellow]{name}: not yet:[/] {exc}")
            return True
        except CurateError as exc:
            self.result.stages[name] = {"ran": False, "error": str(exc)}
            self.result.failed = name
            self.say(f"[red]{name} failed:[/] {exc}")
            return False
        self.result.stages[name] = {"ran": True, **summary}
        shown = ", ".join(f"{k} {v}" for k, v in summary.items())
        self.say(f"  {name}: {shown}")
        if fingerprint is not None:
            self._remember(name, fingerprint)
        return True

    def table_state(self, *names: str) -> list[Any]:
        return [_file_state(self.workspace.table_path(n)) for n in names]

    def records_state(self) -> list[Any]:
        # a part is rewritten in place when ingest corrects references: its state, not its name
        return [_file_state(p) for p in self.workspace.parts("records")]

    def config_state(self) -> str | None:
        return (
            hashlib.sha256(self.config.path.read_bytes()).hexdigest() if self.config.path else None
        )


def _push_summary(results) -> dict[str, Any]:
    """Records pushed per dataset, and the personal data replaced before Argilla saw them."""
    summary: dict[str, Any] = {r.dataset: r.pushed for r in results}
    replaced: dict[str, int] = {}
    for r in results:
        for kind, n in r.redacted.items():
            replaced[kind] = replaced.get(kind, 0) + n
    if replaced:
        summary["personal data replaced"] = ", ".join(
            f"{k} {n}" for k, n in sorted(replaced.items())
        )
    return summary


def run_pipeline(project: Project, say: Say, progress=None) -> RunResult:
    """ingest -> detect -> balance -> push, then pull -> export when there are answers.

    Every stage runs with this one project: curate.toml and its tasks are read once.
    """
    from curate.balance.stage import BalanceSettings, balance_candidates
    from curate.detect.stage import find_failures
    from curate.export.stage import ExportSettings, export_dataset
    from curate.ingest.stage import ingest_logs
    from curate.queue.judge import suggest
    from curate.queue.stage import pull_queue, push_queue

    workspace, config = project.workspace, project.config
    workspace.create()
    pipe = Pipeline(workspace, config, say)
    sources = _sources(config)
    seed = int(pipe.settings.get("seed", 0))

    def do_ingest() -> dict[str, Any]:
        totals = {"ingested": 0, "duplicates": 0, "quarantined": 0}
        for source in sources:
            done = ingest_logs(
                project,
                source["files"],
                task=source.get("task"),
                references=source["references"],
                format_name=source.get("format", "auto"),
                progress=progress,
            )
            for key in totals:
                totals[key] += getattr(done, key)
        return totals

    ingest_print = _fingerprint(
        [
            (
                s.get("task"),
                s.get("format"),
                [_file_state(Path(f)) for f in s["files"]],
                _file_state(s["references"]) if s["references"] else None,
            )
            for s in sources
        ]
    )
    steps = [
        ("ingest", lambda: ingest_print, do_ingest),
        (
            "detect",
            lambda: _fingerprint(pipe.records_state(), pipe.config_state()),
            lambda: _summary(find_failures(project), ("records", "findings", "failing_records")),
        ),
        (
            "balance",
            lambda: _fingerprint(pipe.table_state("findings"), pipe.config_state(), pipe.settings),
            lambda: {
                t: s["selected"]
                for t, s in balance_candidates(
                    project,
                    BalanceSettings(
                        target=int(pipe.settings.get("target", BalanceSettings.target)),
                        seed=seed,
                    ),
                ).tasks.items()
            },
        ),
    ]
    for name, fingerprint, action in steps:
        if not pipe.stage(name, fingerprint(), action):
            return pipe.result
    if config.section("judge") and not pipe.stage(
        "suggest",
        _fingerprint(pipe.table_state("candidates"), pipe.config_state()),
        lambda: _summary(suggest(project, progress=progress), ("asked", "answered", "cached")),
    ):
        return pipe.result
    if pipe.settings.get("push", True):
        if not pipe.stage(
            "queue push",
            _fingerprint(pipe.table_state("candidates")),
            lambda: _push_summary(push_queue(project)),
        ):
            return pipe.result
        if not pipe.stage(
            "queue pull",
            None,
            lambda: _summary(
                pull_queue(project), ("new_responses", "records_answered", "resolved")
            ),
        ):
            return pipe.result
        if workspace.has_table("resolved") and pipe.result.stages["queue pull"].get("resolved"):
            name = pipe.settings.get("export_name", "sft")
            pipe.stage(
                "export",
                _fingerprint(pipe.table_state("resolved"), pipe.config_state(), pipe.settings),
                lambda: _summary(
                    export_dataset(project, ExportSettings(name=name, seed=seed, overwrite=True)),
                    ("written", "excluded"),
                ),
            )
        else:
            pipe.result.stages["export"] = {"ran": False, "why": "nothing labelled yet"}
    return pipe.result


def _summary(result: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: getattr(result, key) for key in keys}
