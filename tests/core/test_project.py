"""The project object, the table layer and the public API (issue 12)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys

import polars as pl
import pytest

import curate
from curate.cli import main
from curate.core.config import Config, load_config, load_schema
from curate.core.errors import MissingTableError
from curate.core.project import open_project
from curate.core.tables import TABLES
from curate.core.workspace import Workspace
from tests.conftest import SAMPLE
from tests.test_run import _project as run_project

JSON_TYPES = {
    pl.String: "string",
    pl.Int64: "integer",
    pl.UInt32: "integer",
    pl.UInt64: "integer",
    pl.Float64: "number",
    pl.Boolean: "boolean",
}


def test_tasks_and_schema_files_are_read_once_per_command(runner, tmp_path, monkeypatch):
    """`curate run` runs ingest, detect and balance (and export when there are answers): the
    tasks are built, and their schema files read, once for all of them."""
    import curate.core.tasks

    built, read = [], []
    load_tasks, load_schema_file = curate.core.tasks.load_tasks, curate.core.tasks._load_schema
    monkeypatch.setattr(curate.core.tasks, "load_tasks", lambda c: built.append(1) or load_tasks(c))
    monkeypatch.setattr(
        curate.core.tasks, "_load_schema", lambda *a: read.append(a[0]) or load_schema_file(*a)
    )
    result = runner.invoke(main, [*run_project(tmp_path), "run", "--json"])
    assert result.exit_code == 0, result.output
    stages = json.loads(result.stdout)["stages"]
    assert stages["detect"]["ran"] and stages["balance"]["ran"]
    assert len(built) == 1 and read == ["entity_match_output.schema.json"]


def test_open_finds_the_project(tmp_path, monkeypatch):
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    (tmp_path / "sub").mkdir()
    (tmp_path / "curate.toml").write_text('[tasks.t]\nkind = "generation"\n')
    by_folder = curate.open(tmp_path)
    by_file = curate.open(tmp_path / "curate.toml")
    by_config = curate.open(load_config(tmp_path / "curate.toml"))
    monkeypatch.chdir(tmp_path / "sub")
    from_cwd = curate.open()
    for project in (by_folder, by_file, by_config, from_cwd):
        assert project.workspace.root == (tmp_path / ".curate").resolve()
        assert list(project.tasks) == ["t"]
    bare = open_project(tmp_path / "sub")  # no curate.toml there: an empty config
    assert bare.config.path is None and bare.tasks == {}
    assert bare.workspace.root == (tmp_path / "sub" / ".curate").resolve()
    assert curate.open(tmp_path, workspace=tmp_path / "w").workspace.root == tmp_path / "w"


def test_only_the_named_detectors_are_built():
    from curate.detect.detectors import build_detectors

    assert [d.name for d in build_detectors(Config(), ["refusal"])] == ["refusal"]
    assert len(build_detectors(Config())) == 13


def test_a_missing_table_says_what_to_run(tmp_path, runner):
    ws = Workspace(tmp_path / ".curate")
    ws.create()
    with pytest.raises(MissingTableError, match=r"no findings table yet: run `curate detect`"):
        ws.read_table("findings")
    assert ws.read_table("findings", empty=True).schema == TABLES["findings"].schema
    result = runner.invoke(main, ["--workspace", str(ws.root), "export"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert "no candidates table yet: run `curate balance` before `curate export`" in said
    with ws.stage("balance") as run:  # balanced, nothing labelled yet
        for name in ("candidates", "clusters", "tags"):
            run.write(name, TABLES[name].schema.to_frame())
    ws.table_path("findings").parent.mkdir(exist_ok=True)
    with ws.stage("detect") as run:
        run.write("findings", TABLES["findings"].schema.to_frame())
    result = runner.invoke(main, ["--workspace", str(ws.root), "export"])
    assert result.exit_code == 1
    assert (
        "no resolved table yet: label in Argilla, then run `curate queue pull` before "
        "`curate export`" in " ".join(result.output.split())
    )


def test_a_failed_stage_commits_nothing(tmp_path):
    ws = Workspace(tmp_path / ".curate")
    ws.create()
    findings = TABLES["findings"].schema.to_frame()
    with ws.stage("detect") as run:
        run.write("findings", findings)
        run.counts = {"findings": 0}
    before = (ws.table_path("findings").read_bytes(), ws.manifest())
    row = {c: "x" for c in findings.columns}
    with pytest.raises(RuntimeError), ws.stage("detect") as run:
        run.write("findings", pl.DataFrame([row]))
        run.write("tags", pl.DataFrame([{"record_id": "x", "field": "f", "tag": "t"}]))
        raise RuntimeError("the stage broke")
    assert (ws.table_path("findings").read_bytes(), ws.manifest()) == before
    assert not ws.has_table("tags")
    assert not list(ws.root.glob(".*.staged")), "staged files are removed"
    assert [r["stage"] for r in ws.manifest()["runs"]] == ["detect"]


def test_a_stage_commits_its_tables_in_their_schemas(tmp_path):
    ws = Workspace(tmp_path / ".curate")
    ws.create()
    tags = pl.DataFrame({"tag": ["t"], "record_id": ["r"], "field": ["f"], "extra": [1]})
    with ws.stage("balance", {"target": 1}) as run:
        run.write("tags", tags)
        run.counts = {"t": 1}
    assert ws.read_table("tags").columns == ["record_id", "field", "tag"]
    assert ws.manifest()["runs"][-1] | {"started_at": 0, "finished_at": 0} == {
        "stage": "balance",
        "started_at": 0,
        "finished_at": 0,
        "args": {"target": 1},
        "counts": {"t": 1},
    }


@pytest.mark.parametrize("name", list(TABLES))
def test_each_table_ships_its_schema(name):
    """schemas/*.schema.json says what the registry says: the same columns, the same types."""
    table = TABLES[name]
    doc = load_schema(table.json_schema.removesuffix(".schema.json"))
    assert list(doc["properties"]) == table.schema.names()
    assert set(doc["required"]) <= set(table.schema.names())
    for column, dtype in table.schema.items():
        prop = doc["properties"][column]
        declared = prop.get("type", "string" if "enum" in prop else None)
        kinds = set(declared if isinstance(declared, list) else [declared]) - {"null"}
        if dtype in JSON_TYPES:
            assert kinds == {JSON_TYPES[dtype]}, (column, dtype, prop)
        elif isinstance(dtype, pl.List):
            assert kinds == {"array"}, (column, dtype, prop)
        elif isinstance(dtype, pl.Datetime):
            assert kinds == {"string"} and prop.get("format") == "date-time", column


def test_public_api_names_resolve():
    for name in curate.__all__:
        assert getattr(curate, name) is not None, name
    assert curate.open is open_project and issubclass(curate.MissingTableError, Exception)
    with pytest.raises(AttributeError):
        curate.no_such_name  # noqa: B018


def test_plugin_base_classes_come_from_curate():
    from curate.balance.taggers import Tagger, ValueTagger
    from curate.detect.detectors.base import Detector, Option
    from curate.export.exporters import Exporter
    from curate.ingest.formats.base import LogFormat

    assert (curate.Detector, curate.Option, curate.LogFormat) == (Detector, Option, LogFormat)
    assert (curate.Tagger, curate.ValueTagger, curate.Exporter) == (Tagger, ValueTagger, Exporter)


def test_import_curate_stays_cheap():
    """`import curate` loads no stage (and no polars): the CLI's --help stays fast."""
    code = "import sys, curate; print(sorted(m for m in sys.modules if m.startswith(('polars', 'curate.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _ingest_more(args: list[str], log: str, ready) -> None:
    """`curate ingest` that says when it holds the workspace, then takes its time."""
    import time

    from click.testing import CliRunner

    import curate.ingest.stage

    read_outputs = curate.ingest.stage.read_outputs

    def slow(*a, **k):
        ready.set()
        time.sleep(1.5)
        return read_outputs(*a, **k)

    curate.ingest.stage.read_outputs = slow
    result = CliRunner().invoke(main, [*args, "ingest", log, "--task", "topic"])
    assert result.exit_code == 0, result.output


def test_export_and_ingest_at_once_lose_nothing(tmp_path, runner, monkeypatch):
    """Two writers at once: the second waits for the lock; both runs and every record stay."""
    from tests import logs
    from tests.test_degenerate import Case, _answers, _project, _queue

    args, ingest_args = _project(tmp_path, Case(n=120))
    stand_in = _queue(tmp_path / "curate.toml")
    for step in (["ingest", *ingest_args], ["detect"], ["balance", "--target", "40"]):
        assert runner.invoke(main, [*args, *step]).exit_code == 0, step
    assert runner.invoke(main, [*args, "queue", "push"]).exit_code == 0
    stand_in.answer_all(_answers)
    assert runner.invoke(main, [*args, "queue", "pull"]).exit_code == 0
    more = logs.write(tmp_path / "more", "openai_chat", logs.calls(3120)[120:])[0]  # new ids
    monkeypatch.setenv("CURATE_LOCK_TIMEOUT", "120")
    before = Workspace(tmp_path / ".curate").scan_records().select(pl.len()).collect().item()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    writer = ctx.Process(target=_ingest_more, args=(args, str(more), ready))
    writer.start()
    assert ready.wait(60), "the ingest did not start"
    exported = runner.invoke(main, [*args, "export", "--name", "during", "--allow-small"])
    writer.join(120)
    assert writer.exitcode == 0 and exported.exit_code == 0, exported.output
    ws = Workspace(tmp_path / ".curate")
    stages = [r["stage"] for r in ws.manifest()["runs"]]
    assert stages[-2:] == ["ingest", "export"], "the export waited for the ingest"
    assert ws.scan_records().select(pl.len()).collect().item() == before + 3000
    assert (ws.root / "exports" / "during" / "train.jsonl").is_file()
    assert os.path.basename(str(more)) in {
        s["path"].split("/")[-1] for s in ws.manifest()["sources"]
    }


def _python_blocks(text: str) -> list[str]:
    blocks, rest = [], text
    while "```python\n" in rest:
        rest = rest[rest.index("```python\n") + len("```python\n") :]
        blocks.append(rest[: rest.index("```")])
    return blocks


def test_the_readme_notebook_session_runs(tmp_path, monkeypatch):
    """The README's Python section, run as written in a copy of the sample project: open,
    ingest, detect, findings as a frame, balance, push; then, after (stand-in) labelling, pull
    and export. The queue is the in-memory stand-in; the real server is the integration
    tests' business."""
    from curate.core.config import load_config
    from curate.queue import memory

    readme = (SAMPLE.parent / "README.md").read_text()
    section = readme[readme.index("## From Python") : readme.index("## curate.toml reference")]
    before, after = _python_blocks(section)
    for name in ("curate.toml", "entity_match_output.schema.json"):
        (tmp_path / name).write_text((SAMPLE / name).read_text())
    for name in ("entity_match_chat.jsonl.gz", "entity_match_references.csv"):
        (tmp_path / name).write_bytes((SAMPLE / name).read_bytes())
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    with (tmp_path / "curate.toml").open("a") as toml:
        toml.write('\n[queue]\nbackend = "memory"\n')
    stand_in = memory.connect(load_config(tmp_path / "curate.toml"))
    namespace: dict = {}
    exec(compile(before, "README.md", "exec"), namespace)
    assert namespace["failures"].height > 0 and namespace["detected"].failing_records > 0
    pushed = pl.read_parquet(tmp_path / ".curate" / "candidates.parquet").height
    assert pushed == 200

    def answer(dataset, record):
        values = {"is_failure": "yes", "label": "non_match"}
        if "corrected_output" in dataset.questions:
            values["corrected_output"] = '{"decision": "non_match"}'
        return values

    assert stand_in.answer_all(answer) == pushed
    exec(compile(after, "README.md", "exec"), namespace)
    assert (
        namespace["exported"].written["train"] + namespace["exported"].written.get("validation", 0)
        > 100
    )


def test_a_killed_stage_leaves_nothing_staged_after_the_next_command(tmp_path):
    """Tables staged by a stage that was killed before its commit are removed; a journalled
    commit of staged tables is finished, not lost."""
    import json as json_module
    import uuid

    ws = Workspace(tmp_path / ".curate")
    ws.create()
    orphan = ws.root / ".findings.parquet.dead.staged"
    TABLES["findings"].schema.to_frame().write_parquet(orphan)
    staged = ws.root / ".tags.parquet.journalled.staged"
    pl.DataFrame({"record_id": ["r"], "field": ["f"], "tag": ["t"]}).write_parquet(staged)
    ws.journal_dir.mkdir()
    entry = {"id": uuid.uuid4().hex, "moves": [[str(staged), str(ws.table_path("tags"))]]}
    (ws.journal_dir / "x.json").write_text(json_module.dumps(entry | {"sources": []}))
    with ws.lock("status"):
        pass
    assert not orphan.exists() and not staged.exists()
    assert ws.read_table("tags")["tag"].to_list() == ["t"]


def test_the_queue_is_the_one_curate_toml_names_connected_once(tmp_path):
    from curate.core.errors import ConfigError
    from curate.core.project import Project
    from curate.queue.memory import MemoryQueue

    toml = tmp_path / "curate.toml"
    toml.write_text('[queue]\nbackend = "memory"\n')
    project = curate.open(toml)
    queue = project.queue()
    assert isinstance(queue, MemoryQueue) and project.queue() is queue
    # another project on the same curate.toml (the next command) finds what was pushed
    assert curate.open(toml).queue() is queue
    given = MemoryQueue()
    assert Project(project.workspace, project.config, queue_backend=given).queue() is given
    toml.write_text('[queue]\nbackend = "argila"\n')
    with pytest.raises(ConfigError, match=r"did you mean 'argilla'.*argilla, memory"):
        curate.open(toml).queue()
