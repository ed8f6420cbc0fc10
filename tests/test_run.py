from __future__ import annotations

import json
import os

from curate.cli import main
from tests.conftest import SAMPLE


def _project(tmp_path):
    for name in ("entity_match_output.schema.json", "entity_match_references.csv"):
        (tmp_path / name).write_bytes((SAMPLE / name).read_bytes())
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl.gz").write_bytes(
        (SAMPLE / "entity_match_chat.jsonl.gz").read_bytes()
    )
    toml = (SAMPLE / "curate.toml").read_text().split("# What `curate run` ingests")[0]
    toml += (
        '\n[[sources]]\npath = "logs/*.jsonl.gz"\ntask = "entity_match"\n'
        'references = "entity_match_references.csv"\n\n[run]\ntarget = 100\npush = false\n'
    )
    (tmp_path / "curate.toml").write_text(toml)
    return ["--workspace", str(tmp_path / ".curate"), "--config", str(tmp_path / "curate.toml")]


def test_run_does_each_stage_once_until_its_inputs_change(runner, tmp_path):
    args = _project(tmp_path)
    first = runner.invoke(main, [*args, "run", "--json"])
    assert first.exit_code == 0, first.output
    stages = json.loads(first.stdout)["stages"]
    assert stages["ingest"]["ingested"] == 3000 and stages["ingest"]["ran"]
    assert stages["detect"]["ran"] and stages["balance"]["entity_match"] == 100
    second = json.loads(runner.invoke(main, [*args, "run", "--json"]).stdout)["stages"]
    assert all(not s["ran"] for s in second.values())
    assert second["detect"]["why"].startswith("its inputs have not changed")
    log = tmp_path / "logs" / "a.jsonl.gz"
    os.utime(log, ns=(log.stat().st_atime_ns, log.stat().st_mtime_ns + 10**9))
    third = json.loads(runner.invoke(main, [*args, "run", "--json"]).stdout)["stages"]
    assert (
        third["ingest"]["ran"]
        and third["ingest"]["ingested"] == 0
        and third["ingest"]["duplicates"] == 3000
    )
    assert not third["detect"]["ran"], "no new records: detect's inputs are the same"


def test_run_without_sources_says_what_to_write(runner, tmp_path):
    (tmp_path / "curate.toml").write_text('[tasks.t]\nkind = "generation"\n')
    result = runner.invoke(
        main,
        ["--workspace", str(tmp_path / ".c"), "--config", str(tmp_path / "curate.toml"), "run"],
    )
    assert result.exit_code == 2 and "[[sources]]" in result.output
