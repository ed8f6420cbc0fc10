"""The daft engine gives the local engine's answers: findings, labels, counts, row for row.

Daft runs in this process on all cores here; tests/integration/test_ray.py runs the same on
the Ray cluster `make test` starts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from curate.core.config import Config, load_config
from curate.core.engine import Engine
from curate.core.errors import ConfigError, InputError
from curate.core.project import Project
from curate.core.workspace import Workspace
from curate.detect.stage import find_failures
from curate.ingest.stage import ingest_logs
from tests.conftest import SAMPLE, chat_line, write_jsonl

DAFT = Engine(kind="daft", partition_rows=1000)  # small partitions: many of them, even here


def sample_project(root: Path) -> Project:
    """Both sample tasks ingested (chat logs, and Batch output with its input file)."""
    for name in ("curate.toml", "entity_match_output.schema.json"):
        shutil.copy(SAMPLE / name, root / name)
    project = Project(
        Workspace(root / ".curate", root / "curate.toml"), load_config(root / "curate.toml")
    )
    ingest_logs(
        project,
        [SAMPLE / "entity_match_chat.jsonl.gz"],
        task="entity_match",
        references=SAMPLE / "entity_match_references.csv",
    )
    ingest_logs(
        project,
        [SAMPLE / "ticket_batch_output.jsonl", SAMPLE / "ticket_batch_input.jsonl"],
        task="ticket_topic",
        references=SAMPLE / "ticket_references.csv",
    )
    return project


# the local engine a partition at a time (as past half a million records), partitions this small
PARTITIONED = Engine(local_partition_rows=700)


def detect_both(project: Project, other: Engine = DAFT) -> tuple[tuple, tuple]:
    """Detect with the local engine in one call and with `other`: (result dict, findings,
    labels) of each."""
    out = []
    for engine in (Engine(), other):
        result = find_failures(project, engine=engine).to_dict()
        result.pop("engine")
        out.append(
            (
                result,
                project.workspace.read_table("findings"),
                project.workspace.read_table("labels"),
            )
        )
    return out[0], out[1]


def test_detect_on_daft_equals_local_on_the_sample(tmp_path):
    local, daft = detect_both(sample_project(tmp_path))
    assert local[1].height > 1000 and local[2].height == 3600
    assert local[0] == daft[0]
    assert local[1].equals(daft[1])
    assert local[2].equals(daft[2])
    # inconsistent compares records across partitions' boundaries only if the engine keeps
    # each input's records together: it must have found something to compare
    assert local[0]["detectors"]["inconsistent"]["count"] > 0


def test_local_detect_a_partition_at_a_time_equals_one_call(tmp_path):
    project = sample_project(tmp_path)
    whole, parted = detect_both(project, PARTITIONED)
    assert whole[0]["records"] > 4 * PARTITIONED.local_partition_rows  # several partitions
    assert whole[0] == parted[0]
    assert whole[1].equals(parted[1]) and whole[2].equals(parted[2])
    assert whole[0]["detectors"]["inconsistent"]["count"] > 0


def test_detect_on_daft_equals_local_on_200k_generated_records(tmp_path):
    from bench.detect import SCHEMA, TASKS, make_records

    (tmp_path / "em.schema.json").write_text(__import__("json").dumps(SCHEMA))
    workspace = Workspace(tmp_path / ".curate")
    workspace.create()
    # about four records per input, so the answers to one input can disagree
    frame = make_records(200_000).with_columns(pl.col("input_hash") % 50_000)
    # several parts, as ingest writes them, so partitions cut across files
    for start in range(0, frame.height, 70_000):
        frame.slice(start, 70_000).write_parquet(workspace.part_path("records"))
    project = Project(workspace, Config(path=tmp_path / "curate.toml", data={"tasks": TASKS}))
    whole, parted = detect_both(project, Engine(local_partition_rows=30_000))
    assert whole[0] == parted[0] and whole[1].equals(parted[1]) and whole[2].equals(parted[2])
    local, daft = detect_both(project)
    assert local[0]["records"] == 200_000
    assert local[0] == daft[0]
    assert local[1].equals(daft[1])
    assert local[2].equals(daft[2])
    found = local[0]["detectors"]
    assert found["inconsistent"]["count"] > 1000 and found["invalid_json"]["count"] > 1000


def test_detect_only_on_daft_keeps_the_other_findings(tmp_path):
    project = sample_project(tmp_path)
    find_failures(project)
    everything = project.workspace.read_table("findings")
    find_failures(project, only=["refusal"], engine=DAFT)
    assert project.workspace.read_table("findings").equals(everything)


def test_engine_settings_and_errors(tmp_path, monkeypatch):
    assert Engine.from_config({}).kind == "local"
    assert Engine.from_config({"kind": "daft"}).distributed
    assert Engine.from_config({"kind": "daft"}, kind="local").kind == "local"
    with pytest.raises(ConfigError, match="unknown engine 'spark'"):
        Engine.from_config({}, kind="spark")
    # an address means daft, unless local is asked for
    on_ray = Engine.from_config({}, ray_address="127.0.0.1:6390")
    assert on_ray.kind == "daft" and on_ray.ray_address == "127.0.0.1:6390"
    with pytest.raises(ConfigError, match="drop one of them"):
        Engine.from_config({}, kind="local", ray_address="127.0.0.1:6390")
    assert Engine.from_config({"ray_address": "h:1"}, kind="local").ray_address is None
    monkeypatch.setenv("CURATE_RAY_ADDRESS", "10.0.0.1:6379")
    assert Engine.from_config({"kind": "daft"}).ray_address == "10.0.0.1:6379"
    assert Engine.from_config({"kind": "local"}).ray_address is None
    # the config schema knows the section
    (tmp_path / "curate.toml").write_text('[engine]\nkind = "dask"\n')
    with pytest.raises(ConfigError, match=r"engine\.kind"):
        load_config(tmp_path / "curate.toml")


def test_detect_on_daft_with_no_records(tmp_path):
    workspace = Workspace(tmp_path / ".curate")
    workspace.create()
    result = find_failures(Project(workspace), engine=DAFT)
    assert result.records == 0 and result.findings == 0
    assert workspace.read_table("findings").height == 0


def test_records_parts_missing_a_newer_column_read_on_daft(tmp_path):
    """A part written before a column joined the schema reads it as missing, as locally."""
    project = sample_project(tmp_path)
    parts = project.workspace.parts("records")
    old = pl.read_parquet(parts[0]).drop("confidence")
    old.write_parquet(parts[0])
    local, daft = detect_both(project)
    assert local[0] == daft[0] and local[1].equals(daft[1])


# -- ingest ------------------------------------------------------------------------------------
def small_logs(folder: Path, files: int, per_file: int = 5) -> list[Path]:
    """`files` chat logs of a few lines; every seventh file has a bad line, every fifth repeats
    a call of the file before it (a duplicate across files), every ninth is gzip."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in range(files):
        rows: list = [chat_line(f * 100 + i) for i in range(per_file)]
        if f % 7 == 3:
            rows.insert(2, '{"request": {"model": "x"}, "response": ')
        if f % 5 == 4:
            rows.append(chat_line((f - 1) * 100))
        name = f"calls-{f:04d}.jsonl" + (".gz" if f % 9 == 8 else "")
        paths.append(write_jsonl(folder / name, rows, compress=name.endswith(".gz")))
    return paths


def ingested(project: Project) -> dict:
    """What ingest left in the workspace, with the times that differ between runs taken out."""
    ws = project.workspace
    entries = [
        {k: v for k, v in e.items() if k not in ("ingested_at", "commit")}
        for e in ws.manifest()["sources"]
    ]
    return {
        "records": ws.scan_records().collect().sort("record_id"),
        "quarantine": ws.scan("quarantine").collect().drop("quarantined_at").sort("source", "line"),
        "entries": sorted(entries, key=lambda e: (e["path"], e["format"])),
    }


def assert_same(a: dict, b: dict) -> None:
    assert a["records"].equals(b["records"])
    assert a["quarantine"].equals(b["quarantine"])
    assert a["entries"] == b["entries"]


def ingest_everything(root: Path, engine: Engine, logs: str) -> tuple[Project, list[dict]]:
    project = Project(Workspace(root / ".curate"), Config())
    results = [
        ingest_logs(
            project,
            [SAMPLE / "entity_match_chat.jsonl.gz"],
            task=None,
            references=SAMPLE / "entity_match_references.csv",
            engine=engine,
        ),
        ingest_logs(
            project,
            [SAMPLE / "ticket_batch_output.jsonl", SAMPLE / "ticket_batch_input.jsonl"],
            engine=engine,
        ),
        ingest_logs(project, [logs], engine=engine),  # a glob, expanded by curate
        ingest_logs(project, [logs], engine=engine),  # again: adds nothing
    ]
    out = []
    for r in results:
        d = r.to_dict()
        d.pop("engine")
        out.append(d)
    return project, out


def test_ingest_on_daft_equals_local(tmp_path):
    small_logs(tmp_path / "logs", 60)
    logs = str(tmp_path / "logs" / "calls-*.jsonl*")
    local, local_results = ingest_everything(tmp_path / "a", Engine(), logs)
    daft, daft_results = ingest_everything(tmp_path / "b", Engine("daft", files_per_task=4), logs)
    assert local_results == daft_results
    assert_same(ingested(local), ingested(daft))
    first, again = local_results[2], local_results[3]
    assert len(first["sources"]) == 60 and first["ingested"] == 60 * 5
    assert first["duplicates"] == 12 and first["quarantined"] == 9  # 12 repeats, 9 bad lines
    # read again, the bad lines are counted again but quarantined once
    assert again["ingested"] == 0 and again["quarantined"] == 9 and again["duplicates"] == 312
    assert ingested(local)["quarantine"].height == 9 + 3  # and the sample's 3


def test_many_small_files_are_committed_in_a_few_parts(tmp_path):
    paths = small_logs(tmp_path / "logs", 300, per_file=3)
    project = Project(Workspace(tmp_path / ".curate"), Config())
    result = ingest_logs(project, [str(tmp_path / "logs" / "*.jsonl*")])
    ws = project.workspace
    assert len(result.sources) == 300 == len(ws.manifest()["sources"])
    assert len(ws.parts("records")) == 1 and len(ws.parts("quarantine")) == 1
    assert ws.scan_records().select(pl.len()).collect().item() == result.ingested == 900
    assert {e["path"] for e in ws.manifest()["sources"]} == {str(p.resolve()) for p in paths}


def test_a_bad_file_keeps_the_files_before_it(tmp_path):
    import gzip

    small_logs(tmp_path / "logs", 10)
    cut = gzip.compress((tmp_path / "logs" / "calls-0005.jsonl").read_bytes() * 50)[:-40]
    (tmp_path / "logs" / "calls-0005.jsonl").unlink()
    (tmp_path / "logs" / "calls-0005.jsonl.gz").write_bytes(cut)  # a copy cut short
    project = Project(Workspace(tmp_path / ".curate"), Config())
    paths = sorted((tmp_path / "logs").glob("calls-*"))
    with pytest.raises(InputError, match=r"calls-0005.jsonl.gz: cannot be read.*\n\(5 file"):
        ingest_logs(project, paths, format_name="openai_chat", engine=DAFT)
    assert len(project.workspace.manifest()["sources"]) == 5
    assert project.workspace.scan_records().select(pl.len()).collect().item() == 25


def test_a_glob_that_matches_nothing_says_so(tmp_path):
    project = Project(Workspace(tmp_path / ".curate"), Config())
    with pytest.raises(InputError, match=r"nothing-\*\.jsonl: no file matches"):
        ingest_logs(project, [str(tmp_path / "nothing-*.jsonl")])


# -- clustering --------------------------------------------------------------------------------
def test_clusters_on_daft_equal_local_on_200k_generated_inputs(tmp_path):
    from bench.cluster import make_inputs
    from curate.balance.cluster import ClusterSettings, cluster_texts

    texts = pl.Series(make_inputs(200_000, seed=3)[0])
    settings = ClusterSettings()
    local_stats: dict[str, int] = {}
    daft_stats: dict[str, int] = {}
    local = cluster_texts(texts, settings, local_stats)
    daft = cluster_texts(texts, settings, daft_stats, engine=DAFT)
    assert local.equals(daft)
    assert local_stats == daft_stats
    # planted near-duplicates were linked: there are clusters of more than one text
    sizes = local.group_by("group").len()
    assert sizes.filter(pl.col("len") > 1).height > 5000


def test_balance_on_daft_equals_local(tmp_path):
    from curate.balance.stage import BalanceSettings, balance_candidates

    project = sample_project(tmp_path)
    find_failures(project)
    tables = {}
    for engine in (Engine(), DAFT):
        settings = BalanceSettings(target=300, seed=5)
        result = balance_candidates(project, settings, engine=engine).to_dict()
        ws = project.workspace
        tables[engine.kind] = (result, *(ws.read_table(t) for t in ("clusters", "candidates")))
    local, daft = tables["local"], tables["daft"]
    assert local[0] == daft[0]
    assert local[1].equals(daft[1]) and local[2].equals(daft[2])
    assert local[1]["cluster_size"].max() > 1


def test_engine_errors_say_what_to_do(tmp_path, monkeypatch):
    import subprocess
    import sys

    project = sample_project(tmp_path)
    cli = [sys.executable, "-m", "curate", "--workspace", str(project.workspace.root)]
    cli += ["--config", str(project.workspace.config_path), "detect", "--engine", "daft"]
    for address, says in (
        ("127.0.0.1:1", "no Ray cluster answers at 127.0.0.1:1"),  # at once, not in minutes
        ("nonsense", "Ray address 'nonsense': give HOST:PORT"),
    ):
        done = subprocess.run(
            [*cli, "--ray-address", address], capture_output=True, text=True, timeout=60
        )
        assert done.returncode != 0 and says in done.stderr, done.stderr
    # one process, one Daft runner
    find_failures(project, engine=DAFT)
    with pytest.raises(ConfigError, match=r"cannot switch to 10\.0\.0\.9:6379"):
        find_failures(project, engine=Engine("daft", ray_address="10.0.0.9:6379"))
    # Daft not installed: how to get it
    monkeypatch.setitem(sys.modules, "daft", None)
    with pytest.raises(ConfigError, match=r"pip install 'curate\[scale\]'"):
        find_failures(project, engine=DAFT)


def test_ingest_of_many_files_prints_a_short_table(tmp_path, runner):
    from curate.cli import main

    small_logs(tmp_path / "logs", 60)
    args = ["--workspace", str(tmp_path / ".curate"), "ingest", str(tmp_path / "logs" / "*")]
    result = runner.invoke(main, [*args, "--engine", "daft"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "ingest: 60 files, on daft (this machine)" in result.output
    # the first 10 files, and the 8 later ones with a quarantined row
    assert result.output.count("openai_chat") == 18
    assert "and 42 more files, none with quarantined rows" in result.output


def test_engine_from_curate_toml(tmp_path, runner):
    """[engine] kind = "daft" in curate.toml is what detect runs on, without --engine."""
    from curate.cli import main

    project = sample_project(tmp_path)
    toml = tmp_path / "curate.toml"
    toml.write_text(toml.read_text() + '\n[engine]\nkind = "daft"\npartition_rows = 1000\n')
    args = ["--workspace", str(project.workspace.root), "--config", str(toml)]
    result = runner.invoke(main, [*args, "detect"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "detect: 3600 records, on daft (this machine)" in result.output
    local = runner.invoke(main, [*args, "detect", "--engine", "local", "--json"])
    assert local.exit_code == 0 and '"engine": "local (polars, this machine)"' in local.output
