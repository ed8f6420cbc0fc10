"""`curate run`: the whole job, each stage skipped when its inputs have not changed.

pull ([[pulls]]: trace stores) -> ingest ([[sources]]: log files) -> detect -> balance -> queue
push, and once people have answered in Argilla: queue pull -> export. The manifest keeps a
fingerprint of each stage's inputs; a stage whose fingerprint is unchanged since its last run is
skipped, with the reason.
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


def _plain(text: object) -> str:
    """Text shown as it is: a message naming [[pulls]] or [tasks.X] is not markup."""
    from rich.markup import escape

    return escape(str(text))


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
    if not out and not config.data.get("pulls"):
        raise ConfigError(
            "curate.toml has no [[sources]] nor [[pulls]]: list the logs `curate run` ingests, "
            "or the trace stores it pulls from (see `curate pull --help`), e.g.\n"
            '[[sources]]\npath = "logs/*.jsonl.gz"\ntask = "entity_match"'
        )
    return out


class Pipeline:
    """One `curate run`: the project, what the steps share, what each did."""

    def __init__(self, project: Project, say: Say, progress=None):
        self.project, self.say, self.progress = project, say, progress
        self.workspace, self.config = project.workspace, project.config
        self.settings = self.config.section("run")
        self.seed = int(self.settings.get("seed", 0))
        self.result = RunResult()
        self.sources: list[dict[str, Any]] = []

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
            self.say(f"[yellow]{name}: not yet:[/] {_plain(exc)}")
            return True
        except CurateError as exc:
            self.result.stages[name] = {"ran": False, "error": str(exc)}
            self.result.failed = name
            self.say(f"[red]{name} failed:[/] {_plain(exc)}")
            return False
        self.result.stages[name] = {"ran": True, **summary}
        shown = ", ".join(f"{k} {v}" for k, v in summary.items())
        self.say(f"  {name}: {_plain(shown)}")
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


@dataclass(frozen=True)
class Step:
    """A stage of `curate run`. `inputs`: a fingerprint of what it depends on (None: it always
    runs); it is skipped when the fingerprint is the one of its last run. `when`: True to run,
    False to leave it out, or why it does not run yet (said in the result)."""

    name: str
    inputs: Callable[[Pipeline], str | None]
    action: Callable[[Pipeline], dict[str, Any]]
    when: Callable[[Pipeline], bool | str] = lambda pipe: True


def _ingest_inputs(pipe: Pipeline) -> str:
    return _fingerprint(
        [
            (
                s.get("task"),
                s.get("format"),
                [_file_state(Path(f)) for f in s["files"]],
                _file_state(s["references"]) if s["references"] else None,
            )
            for s in pipe.sources
        ]
    )


def _ingest(pipe: Pipeline) -> dict[str, Any]:
    from curate.ingest.stage import ingest_logs

    return _totals(
        ingest_logs(
            pipe.project,
            source["files"],
            task=source.get("task"),
            references=source["references"],
            format_name=source.get("format", "auto"),
            progress=pipe.progress,
        )
        for source in pipe.sources
    )


def _totals(results) -> dict[str, int]:
    """Records added, duplicates and quarantined rows over ingest (or pull) results."""
    keys = ("ingested", "duplicates", "quarantined")
    totals = dict.fromkeys(keys, 0)
    for done in results:
        for key in keys:
            totals[key] += getattr(done, key)
    return totals


def _pull_traces(pipe: Pipeline) -> dict[str, Any]:
    """[[pulls]]: what is new in each trace store, before the files are ingested."""
    from curate.ingest.pull import pull

    return _totals(pull(pipe.project))


def _detect(pipe: Pipeline) -> dict[str, Any]:
    from curate.detect.stage import find_failures

    return _summary(find_failures(pipe.project), ("records", "findings", "failing_records"))


def _balance(pipe: Pipeline) -> dict[str, Any]:
    from curate.balance.settings import BalanceSettings
    from curate.balance.stage import balance_candidates

    target = int(pipe.settings.get("target", BalanceSettings.target))
    chosen = balance_candidates(pipe.project, BalanceSettings(target=target, seed=pipe.seed))
    return {task: summary["selected"] for task, summary in chosen.tasks.items()}


def _suggest(pipe: Pipeline) -> dict[str, Any]:
    from curate.queue.judge import suggest

    return _summary(suggest(pipe.project, progress=pipe.progress), ("asked", "answered", "cached"))


def _push(pipe: Pipeline) -> dict[str, Any]:
    from curate.queue.stage import push_queue

    return _push_summary(push_queue(pipe.project))


def _pull(pipe: Pipeline) -> dict[str, Any]:
    from curate.queue.stage import pull_queue

    return _summary(pull_queue(pipe.project), ("new_responses", "records_answered", "resolved"))


def _export(pipe: Pipeline) -> dict[str, Any]:
    from curate.export.settings import ExportSettings
    from curate.export.stage import export_dataset

    name = pipe.settings.get("export_name", ExportSettings.name)
    settings = ExportSettings(name=name, seed=pipe.seed, overwrite=True)
    return _summary(export_dataset(pipe.project, settings), ("written", "excluded"))


def _pushing(pipe: Pipeline) -> bool:
    return bool(pipe.settings.get("push", True))


def _labelled(pipe: Pipeline) -> bool | str:
    if not _pushing(pipe):
        return False
    pulled = pipe.result.stages.get("queue pull", {})
    if pipe.workspace.has_table("resolved") and pulled.get("resolved"):
        return True
    return "nothing labelled yet"


STEPS = [
    Step("pull", lambda pipe: None, _pull_traces, lambda pipe: bool(pipe.config.data.get("pulls"))),
    Step("ingest", _ingest_inputs, _ingest, lambda pipe: bool(pipe.sources)),
    Step("detect", lambda pipe: _fingerprint(pipe.records_state(), pipe.config_state()), _detect),
    Step(
        "balance",
        lambda pipe: _fingerprint(pipe.table_state("findings"), pipe.config_state(), pipe.settings),
        _balance,
    ),
    Step(
        "suggest",
        lambda pipe: _fingerprint(pipe.table_state("candidates"), pipe.config_state()),
        _suggest,
        when=lambda pipe: bool(pipe.config.section("judge")),
    ),
    Step("queue push", lambda pipe: _fingerprint(pipe.table_state("candidates")), _push, _pushing),
    Step("queue pull", lambda pipe: None, _pull, _pushing),
    Step(
        "export",
        lambda pipe: _fingerprint(pipe.table_state("resolved"), pipe.config_state(), pipe.settings),
        _export,
        _labelled,
    ),
]


def run_pipeline(project: Project, say: Say, progress=None) -> RunResult:
    """ingest -> detect -> balance (-> suggest) -> push, then pull -> export when there are
    answers: the STEPS in order, until one fails.

    Every stage runs with this one project: curate.toml and its tasks are read once.
    """
    project.workspace.create()
    pipe = Pipeline(project, say, progress)
    pipe.sources = _sources(project.config)
    for step in STEPS:
        when = step.when(pipe)
        if when is False:
            continue
        if isinstance(when, str):
            pipe.result.stages[step.name] = {"ran": False, "why": when}
            continue
        if not pipe.stage(step.name, step.inputs(pipe), lambda step=step: step.action(pipe)):
            break
    return pipe.result


def _summary(result: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: getattr(result, key) for key in keys}
