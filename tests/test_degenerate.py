"""Every stage on the workspaces users really have, not the sample's.

Each log format alone; Batch output without its input; no latency; no token usage; no
references; one prompt version; one class; one record; no failures; only failures; only API
errors; a table with every column mapped. Every stage (ingest, detect, balance, queue push and
pull against an in-memory stand-in of the queue, export, report, run) must end with a clear
result or a clear message: never a traceback, and never a silent loss.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from curate.cli import main
from curate.queue.memory import MemoryQueue
from tests import logs


@dataclass
class Case:
    fmt: str = "openai_chat"
    n: int = 60
    outputs: list[str | None] | None = None
    calls: dict[str, Any] = field(default_factory=dict)  # knobs of logs.calls
    references: str | None = "truth"  # truth: a label per call; same: the model's own output
    batch_input: bool = True


CASES = {
    **{f"{fmt} alone": Case(fmt=fmt) for fmt in logs.WRITERS},
    "batch output without its input": Case(fmt="openai_batch", batch_input=False),
    "no latency": Case(calls={"latency": False}),
    "no token usage": Case(fmt="litellm", calls={"usage": False}),
    "no latency, no usage, no input": Case(
        fmt="openai_batch", batch_input=False, calls={"latency": False, "usage": False}
    ),
    "no references": Case(references=None),
    "one prompt version": Case(calls={"versions": 1}),
    "one class": Case(outputs=["billing"], references="same"),
    "one record": Case(n=1),
    "no failures": Case(outputs=["billing", "technical", "other"], references="same"),
    "only failures": Case(outputs=["Topic: refunds?", "¿¿", '{"topic": 1}']),
    "only API errors": Case(outputs=[None]),
    "every column mapped": Case(fmt="table", references=None),
}


def _truth(call: dict[str, Any]) -> str:
    return logs.TOPICS[int(call["id"].split("-")[1]) % 3]


def _project(root: Path, case: Case) -> tuple[list[str], list[str]]:
    """Logs and curate.toml for the case; (global CLI args, ingest args)."""
    rows = logs.calls(case.n, case.outputs, **case.calls)
    paths = logs.write(root / "logs", case.fmt, rows, with_input=case.batch_input)
    ingest = [*(str(p) for p in paths), "--task", "topic"]
    source = f'[[sources]]\npath = "logs/{paths[0].name}"\ntask = "topic"\n'
    if case.fmt == "table":
        ingest += logs.TABLE_MAP
        source += 'format = "table"\n'
    if case.references:

        def answer(call):
            return _truth(call) if case.references == "truth" else (call["output"] or "other")

        refs = logs.references(root / "logs", rows, case.fmt, answer)
        ingest += ["--references", str(refs)]
        source += f'references = "logs/{refs.name}"\n'
    config = root / "curate.toml"
    config.write_text(logs.CONFIG + '\n[run]\ntarget = 20\n[queue]\nbackend = "memory"\n')
    run_config = root / "run" / "curate.toml"
    run_config.parent.mkdir()
    shutil.copytree(root / "logs", root / "run" / "logs")
    # `curate run` reads [[sources]]; the table format needs its map, which [[sources]] lacks
    if case.fmt != "table":
        run_config.write_text(config.read_text() + "\n" + source)
    return ["--workspace", str(root / ".curate"), "--config", str(config)], ingest


def _check(result, args) -> dict[str, Any] | None:
    """No traceback; a failure is a clear message. The JSON output, when there is one."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"curate {' '.join(args)} raised") from result.exception
    if result.exit_code != 0:
        assert "error:" in result.output, (args, result.output)
        return None
    return json.loads(result.stdout) if "--json" in args else None


def _queue(config: Path) -> MemoryQueue:
    """The in-memory queue the commands given `--config config` push to (`[queue] backend =
    "memory"`): what a person answers in the UI, the test answers here."""
    from curate.core.config import load_config
    from curate.queue import memory

    return memory.connect(load_config(config))


def _answers(dataset, record) -> dict[str, Any]:
    questions = set(dataset.questions)
    values: dict[str, Any] = {"is_failure": "yes"}
    if "label" in questions:
        values["label"] = "billing"
    values["corrected_output"] = "billing"
    return values


@pytest.mark.parametrize("name", list(CASES))
def test_every_stage_on_a_degenerate_workspace(name, tmp_path, runner):
    case = CASES[name]
    ws, ingest_args = _project(tmp_path, case)
    queue = _queue(tmp_path / "curate.toml")

    def cli(*args: str) -> dict[str, Any] | None:
        full = [*ws, *args]
        return _check(runner.invoke(main, full), full)

    ingested = cli("ingest", *ingest_args, "--json")
    assert ingested is not None, "ingest must read these logs"
    read = ingested["ingested"] + ingested["duplicates"] + ingested["quarantined"]
    assert read + sum(ingested["skipped"].values()) == case.n, "every line is accounted for"

    detected = cli("detect", "--json")
    assert detected is not None and detected["records"] == ingested["ingested"]

    balanced = cli("balance", "--target", "20", "--json")
    if balanced is not None and balanced["tasks"]:
        summary = balanced["tasks"]["topic"]
        assert summary["selected"] <= 20
        if summary["selected"] < min(20, summary["pool"]):
            assert summary["shortfalls"], "a short selection says why"
        left_out = sum(summary["left_out"].values())
        assert summary["pool"] + left_out == ingested["ingested"], "no record silently dropped"

    pushed = cli("queue", "push", "--json")
    if pushed is not None:
        assert sum(d["pushed"] for d in pushed["datasets"]) == summary["selected"]
    queue.answer_all(_answers)
    pulled = cli("queue", "pull", "--json")
    if pulled is not None and pushed is not None:
        assert pulled["records_answered"] == summary["selected"]
    cli("export", "--name", "e", "--json")
    report = cli("report", "--html", str(tmp_path / "report.html"), "--json")
    assert report is not None and report["records"] == ingested["ingested"]
    for args in (["failures"], ["quarantine"], ["status"], ["report"], ["queue", "status"]):
        cli(*args)

    if case.fmt != "table":
        run_ws = ["--workspace", str(tmp_path / "run" / ".curate")]
        run_ws += ["--config", str(tmp_path / "run" / "curate.toml")]
        first = runner.invoke(main, [*run_ws, "run", "--json"])
        _check(first, ["run", "--json"])
        _queue(tmp_path / "run" / "curate.toml").answer_all(_answers)
        again = runner.invoke(main, [*run_ws, "run", "--json"])
        _check(again, ["run", "--json"])


def test_vcr_cassettes_alone(shared_data, tmp_path, runner):
    """The VCR format alone: every stage over real cassettes (no task, no references)."""
    folder = shared_data / "llm_api_cassettes" / "otel_contrib"
    ws = ["--workspace", str(tmp_path / ".curate")]
    for args in (
        ["ingest", *(str(p) for p in sorted(folder.glob("*.yaml"))), "--json"],
        ["detect", "--json"],
        ["balance", "--target", "5", "--json"],
        ["report", "--json"],
        ["failures"],
        ["status"],
    ):
        _check(runner.invoke(main, [*ws, *args]), args)


def _hold_lock(root: str, ready, release) -> None:
    from curate.core.workspace import Workspace

    with Workspace(root).lock("ingest big.jsonl"):
        ready.set()
        release.wait(60)


def test_every_writing_command_takes_the_lock(tmp_path, runner, monkeypatch):
    """While another process holds the workspace, no command writes to it: each says who holds
    it (an export during an ingest once lost manifest entries)."""
    import multiprocessing

    ws, ingest_args = _project(tmp_path, Case())
    queue = _queue(tmp_path / "curate.toml")
    for args in (["ingest", *ingest_args], ["detect"], ["balance", "--target", "20"]):
        _check(runner.invoke(main, [*ws, *args]), args)
    _check(runner.invoke(main, [*ws, "queue", "push"]), ["queue", "push"])
    queue.answer_all(_answers)
    _check(runner.invoke(main, [*ws, "queue", "pull"]), ["queue", "pull"])
    root = tmp_path / ".curate"
    manifest = (root / "manifest.json").read_bytes()
    monkeypatch.setenv("CURATE_LOCK_TIMEOUT", "0.2")
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(root), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        for args in (
            ["ingest", *ingest_args],
            ["detect"],
            ["balance", "--target", "20"],
            ["queue", "push"],
            ["queue", "pull"],
            ["export", "--name", "during"],
            ["--config", str(tmp_path / "run" / "curate.toml"), "run"],
        ):
            result = runner.invoke(main, [*ws, *args])
            assert result.exit_code == 1, (args, result.output)
            said = " ".join(result.output.split())  # rich wraps long lines
            assert "locked by `curate ingest big.jsonl`" in said, args
        assert (root / "manifest.json").read_bytes() == manifest
        assert not (root / "exports" / "during").exists()
    finally:
        release.set()
        holder.join(30)
