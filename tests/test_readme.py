"""The README is run, not read: its code blocks parse and run, its walkthrough's commands work
as written, and the figures it shows for them are the ones they print."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib

import pytest

from curate.cli import main
from tests.conftest import REPO, SAMPLE

README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", README, flags=re.S | re.M)


def _blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCKS if lang == language]


def test_readme_config_reference_is_generated_from_the_schema():
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "config_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_every_toml_block_is_valid_curate_toml(tmp_path):
    from curate.core.config import load_config

    blocks = [b for b in _blocks("toml") if not b.startswith("# your package's pyproject")]
    assert len(blocks) >= 2
    for block in blocks:
        tomllib.loads(block)
        path = tmp_path / "curate.toml"
        path.write_text(block)
        load_config(path)  # validated against schemas/config.schema.json


def test_the_detector_plugin_example_runs(workspace):
    """The README's plugin example, executed as written and run over records."""
    from curate.detect.detectors import Detector
    from tests.detect.detectors.helpers import put

    (example,) = [b for b in _blocks("python") if "class LongOutput" in b]
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    detector_class = namespace["LongOutput"]
    assert issubclass(detector_class, Detector)
    ids = put(workspace, [{"output": "x" * 2001}, {"output": "short"}])
    found = detector_class({"max_chars": 2000}).run(workspace.scan_records(), None).collect()
    assert found["record_id"].to_list() == [ids[0]]


def _walkthrough_commands() -> list[list[str]]:
    """The `curate` commands of the walkthrough's bash blocks, in order, as argument lists;
    those that need the labelling server or labels are the integration tests' business."""
    commands = []
    for block in _blocks("bash"):
        if "report --compare" in block:
            continue  # the before/after walkthrough: tests/report/test_before_after.py runs it
        if "curate pull" in block:
            continue  # needs a trace store: tests/ingest/pull and test_phoenix_pull.py pull
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#")[0].strip()
            if not line.startswith("curate ") or "[" in line:
                continue
            args = line.split()[1:]
            if args[0] in ("argilla", "queue", "run", "report", "export", "init"):
                continue
            commands.append(args)
    return commands


def test_the_walkthrough_runs_as_written(tmp_path, monkeypatch, runner):
    """curate init, the task block, then every walkthrough command, in a project laid out as the
    README says (the sample's logs under the names it uses); the ingest figures it shows are
    what ingest prints."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    assert runner.invoke(main, ["init"]).exit_code == 0
    (task_block,) = [b for b in _blocks("toml") if b.startswith("[tasks.entity_match]")]
    with open("curate.toml", "a") as fh:
        fh.write("\n" + task_block)
    (tmp_path / "logs").mkdir()
    shutil.copy(SAMPLE / "entity_match_chat.jsonl.gz", "logs/entity_match_chat.jsonl.gz")
    shutil.copy(SAMPLE / "entity_match_references.csv", "known_answers.csv")
    commands = _walkthrough_commands()
    assert [c[0] for c in commands][:3] == ["ingest", "detect", "failures"]
    outputs = {}
    for args in commands:
        result = runner.invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
        outputs[args[0]] = " ".join(result.output.split())
    shown = README.split("curate ingest logs/entity_match_chat.jsonl.gz", 1)[1]
    for line in ("3000 records added, 0 duplicates not added, 3 rows quarantined.",):
        assert line in shown and line in outputs["ingest"]
    matched = re.search(r"references: (\d+) of (\d+) matched a record", shown)
    assert matched and matched.group(0) in outputs["ingest"]
    balance = README.split("curate balance --target 1000", 1)[1].split("It writes the tables")[0]
    starts = ("entity_match: chose", "left out", "could not fill")
    lines = [line.strip() for line in balance.splitlines() if line.strip().startswith(starts)]
    assert len(lines) >= 4
    for line in lines:  # the balance figures the README shows are what balance prints
        assert line in outputs["balance"], line


@pytest.mark.parametrize("target", ["demo", "test"])
def test_the_two_commands_are_make_targets(target):
    assert f"make {target}" in README
    makefile = (REPO / "Makefile").read_text()
    assert re.search(rf"^{target}:", makefile, flags=re.M)


def _architecture_tree() -> set[str]:
    """The paths the README's architecture block lists: `  core/` then `    project.py` is
    core/project.py."""
    block = README.split("## Architecture", 1)[1].split("```", 2)[1]
    listed: set[str] = set()
    parents: list[str] = []
    for line in block.splitlines()[2:]:  # the fence's language line and `curate/`
        name = line.split()[0] if line.strip() else ""
        indent = (len(line) - len(line.lstrip())) // 2
        if not re.fullmatch(r"[\w.]+/?", name) or not 0 < indent <= len(parents) + 1:
            continue  # a continuation line of a description
        parents = parents[: indent - 1]
        listed.add("/".join([*parents, name.rstrip("/")]))
        if name.endswith("/"):
            parents.append(name.rstrip("/"))
    return listed


def test_readme_architecture_is_the_real_tree():
    package = REPO / "curate"
    listed = _architecture_tree()
    missing = sorted(p for p in listed if not (package / p).exists())
    assert not missing, f"the README lists what is not there: {missing}"
    summarized = {"ingest/formats", "detect/detectors", "stack", "schemas"}  # listed as folders
    real = {
        str(p.relative_to(package))
        for p in package.rglob("*")
        if "__pycache__" not in p.parts
        and (p.is_dir() or p.suffix == ".py")
        and not any(str(p.relative_to(package)).startswith(f"{s}/") for s in summarized)
        and not (p.name == "__init__.py" and p.parent != package)
    }
    unlisted = sorted(real - listed)
    assert not unlisted, f"the README's architecture leaves out: {unlisted}"
