from __future__ import annotations

import json
from collections import Counter

import polars as pl
import pytest

from curate.cli import main
from curate.core.annotations import resolve
from curate.core.project import Project
from curate.core.tables import ANNOTATIONS_SCHEMA
from curate.export.checks import check_openai_example
from curate.export.stage import ExportSettings, export_dataset
from tests.conftest import balanced_sample


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    """The sample, balanced to 60 candidates, with answers as `curate queue pull` stores them."""
    workspace, config = balanced_sample(tmp_path_factory.mktemp("export"), target=60, seed=4)
    candidates = pl.read_parquet(workspace.root / "candidates.parquet").sort("rank")
    rows = []

    def answer(record_id, user, question, value, status="submitted"):
        rows.append(
            {
                "record_id": record_id,
                "dataset": "d",
                "task": "entity_match",
                "user_id": user,
                "username": user,
                "status": status,
                "question": question,
                "value": json.dumps(value),
                "answered_at": "2026-11-28T10:00:00",
                "pulled_at": "2026-11-28T11:00:00",
            }
        )

    ids = candidates["record_id"].to_list()
    special = {"discarded": ids[0], "conflict": ids[1], "bad_json": ids[2], "control": ids[3]}
    for i, record_id in enumerate(ids):
        label = "match" if i % 2 else "non_match"
        if record_id == special["discarded"]:
            answer(record_id, "ann", "label", label, status="discarded")
            continue
        if record_id == special["conflict"]:
            answer(record_id, "ann", "label", "match")
            answer(record_id, "lead", "label", "non_match")
            continue
        answer(record_id, "ann", "label", label)
        answer(record_id, "ann", "is_failure", "no" if record_id == special["control"] else "yes")
        if record_id == special["bad_json"]:
            answer(record_id, "ann", "corrected_output", '{"decision": "match",')
        elif i % 3 == 0:
            answer(
                record_id,
                "ann",
                "corrected_output",
                json.dumps({"decision": label, "confidence": 0.9}),
            )
    annotations = pl.DataFrame(rows, schema=ANNOTATIONS_SCHEMA)
    annotations.write_parquet(workspace.root / "annotations.parquet")
    resolved, _ = resolve(annotations, "majority", None)
    resolved.write_parquet(workspace.root / "resolved.parquet")
    return workspace, config, special, len(ids)


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_openai_export_is_valid_split_by_cluster_and_traceable(annotated):
    workspace, config, special, n = annotated
    result = export_dataset(
        Project(workspace, config), ExportSettings(name="em", validation_fraction=0.25, seed=1)
    )
    folder = workspace.root / "exports" / "em"
    train, validation = _lines(folder / "train.jsonl"), _lines(folder / "validation.jsonl")
    assert len(train) == result.written["train"] and len(validation) == result.written["validation"]
    assert len(train) + len(validation) == n - 4
    assert 0.15 <= len(validation) / (len(train) + len(validation)) <= 0.35
    for example in train + validation:
        assert check_openai_example(example) is None
        assert example["messages"][-1]["role"] == "assistant"
        answer = json.loads(example["messages"][-1]["content"])
        assert answer["decision"] in ("match", "non_match")
    manifest = json.loads((folder / "manifest.json").read_text())
    sides = {}
    for entry in manifest["examples"]:
        sides.setdefault(entry["cluster_id"], set()).add(entry["split"])
        assert entry["annotators"] == ["ann"] and entry["detectors"] is not None
    assert all(len(s) == 1 for s in sides.values()), "no cluster on both sides"
    first = manifest["examples"][0]
    assert first["split"] == "train" and first["line"] == 1
    reasons = {e["record_id"]: e["reason"] for e in manifest["excluded"]}
    assert reasons[special["discarded"]] == "discarded by an annotator"
    assert reasons[special["conflict"]].startswith("not resolved")
    assert reasons[special["bad_json"]].startswith("invalid: the corrected output is not JSON")
    assert reasons[special["control"]].startswith("a control confirmed correct")
    assert result.excluded["invalid"] == 1
    card = (folder / "README.md").read_text()
    assert "| class | examples |" in card and "cl100k_base" in card
    assert result.tokens["max"] >= result.tokens["p50"] > 0


def test_other_formats_system_prompt_and_controls(annotated):
    workspace, config, _, n = annotated
    for name in ("prompt-completion", "sharegpt", "alpaca"):
        export_dataset(
            Project(workspace, config),
            ExportSettings(name=name, format=name, validation_fraction=0.0),
        )
    folder = workspace.root / "exports"
    assert set(_lines(folder / "prompt-completion" / "train.jsonl")[0]) == {"prompt", "completion"}
    sharegpt = _lines(folder / "sharegpt" / "train.jsonl")[0]["conversations"]
    assert [t["from"] for t in sharegpt] == ["system", "human", "gpt"]
    assert set(_lines(folder / "alpaca" / "train.jsonl")[0]) == {"instruction", "input", "output"}
    short = export_dataset(
        Project(workspace, config),
        ExportSettings(
            name="short",
            system_prompt="Same person? JSON.",
            include_controls=True,
            validation_fraction=0.0,
        ),
    )
    example = _lines(folder / "short" / "train.jsonl")[0]
    assert example["messages"][0] == {"role": "system", "content": "Same person? JSON."}
    assert short.written["train"] == n - 3  # the control is in


def test_hf_dataset_and_push_to_hub_call(annotated, tmp_path, monkeypatch):
    import datasets

    workspace, config, _, _ = annotated
    calls = []
    monkeypatch.setattr(
        datasets.DatasetDict, "push_to_hub", lambda self, repo, **kw: calls.append(repo)
    )
    result = export_dataset(
        Project(workspace, config),
        ExportSettings(name="hf", hf_dir=tmp_path / "hf", push_to_hub="me/curate-em"),
    )
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert loaded["train"].num_rows == result.written["train"]
    assert loaded["validation"].num_rows == result.written["validation"]
    assert calls == ["me/curate-em"]


def test_cli_export_json_and_errors(annotated, runner):
    workspace, config, _, _ = annotated
    ws = ["--workspace", str(workspace.root), "--config", str(config.path)]
    result = runner.invoke(main, [*ws, "export", "--name", "cli", "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["written"]["train"] > 0 and "discarded by an annotator" in counts["excluded"]
    bad = runner.invoke(main, [*ws, "export", "--validation-fraction", "1.5"])
    assert bad.exit_code == 2 and "validation-fraction" in bad.output


@pytest.mark.parametrize("name", ["..", "../../x", "a/b", "/tmp/x", ".hidden", "", "a..b"])
def test_export_names_are_plain_folder_names(annotated, runner, name):
    workspace, config, _, _ = annotated
    manifest = (workspace.root / "manifest.json").read_bytes()
    ws = ["--workspace", str(workspace.root), "--config", str(config.path)]
    result = runner.invoke(main, [*ws, "export", "--name", name])
    assert result.exit_code == 1 and "plain folder name" in result.output
    assert (workspace.root / "manifest.json").read_bytes() == manifest
    assert not (workspace.root.parent.parent / "x").exists()


def test_an_existing_export_needs_overwrite(annotated, runner):
    workspace, config, _, _ = annotated
    ws = ["--workspace", str(workspace.root), "--config", str(config.path)]
    assert runner.invoke(main, [*ws, "export", "--name", "twice"]).exit_code == 0
    train = workspace.root / "exports" / "twice" / "train.jsonl"
    train.write_text("mine\n")
    again = runner.invoke(main, [*ws, "export", "--name", "twice"])
    assert again.exit_code == 1 and "--overwrite" in again.output
    assert train.read_text() == "mine\n"
    replaced = runner.invoke(main, [*ws, "export", "--name", "twice", "--overwrite"])
    assert replaced.exit_code == 0 and train.read_text() != "mine\n"
    assert [p.name for p in (workspace.root / "exports").iterdir() if p.name.startswith(".")] == []


def test_an_export_target_that_is_a_file_or_read_only(annotated, runner, tmp_path):
    workspace, config, _, _ = annotated
    ws = ["--workspace", str(workspace.root), "--config", str(config.path)]
    (workspace.root / "exports").mkdir(exist_ok=True)
    (workspace.root / "exports" / "afile").write_text("x")
    result = runner.invoke(main, [*ws, "export", "--name", "afile"])
    assert result.exit_code == 1 and "is a file" in result.output
    hf = runner.invoke(main, [*ws, "export", "--name", "hfws", "--hf", str(workspace.root)])
    assert hf.exit_code == 1 and "would write over the workspace" in hf.output
    # a folder that cannot be written (as root, chmod does not stop us: exports/ is a file)
    exports = workspace.root / "exports"
    exports.rename(tmp_path / "exports-aside")
    exports.write_text("not a folder")
    try:
        denied = runner.invoke(main, [*ws, "export", "--name", "denied"])
        assert denied.exit_code == 1 and "writable" in denied.output, denied.output
    finally:
        exports.unlink()
        (tmp_path / "exports-aside").rename(exports)


def test_fewer_than_ten_examples_is_an_error_unless_allowed(annotated, runner, tmp_path):
    import shutil

    workspace, config, _, _ = annotated
    root = tmp_path / ".curate"
    shutil.copytree(workspace.root, root)
    resolved = pl.read_parquet(root / "resolved.parquet")
    keep = resolved["record_id"].unique().sort().head(6)
    resolved.filter(pl.col("record_id").is_in(keep.implode())).write_parquet(
        root / "resolved.parquet"
    )
    ws = ["--workspace", str(root), "--config", str(config.path)]
    refused = runner.invoke(main, [*ws, "export", "--name", "small"])
    assert refused.exit_code == 1 and "--allow-small" in refused.output
    assert not (root / "exports" / "small").exists()
    allowed = runner.invoke(main, [*ws, "export", "--name", "small", "--allow-small", "--json"])
    assert allowed.exit_code == 0, allowed.output
    written = json.loads(allowed.stdout)
    assert 0 < sum(written["written"].values()) < 10
    assert any("at least 10" in w for w in written["warnings"])


@pytest.mark.parametrize("said", ["non-match", "Non Match", "NON_MATCH", "non_match"])
def test_a_corrected_label_is_read_as_the_task_reads_labels(said):
    from curate.core.tasks import Task
    from curate.export.checks import assistant_turn

    task = Task(
        name="em",
        kind="pair_match",
        labels=["match", "non_match"],
        parse_mode="json",
        parse_field="decision",
    )
    answer, why = assistant_turn(
        task, {"label": "non_match", "corrected_output": json.dumps({"decision": said})}, None
    )
    assert why is None and json.loads(answer) == {"decision": "non_match"}
    wrong, why = assistant_turn(
        task, {"label": "non_match", "corrected_output": '{"decision": "match"}'}, None
    )
    assert wrong is None and "resolved label is 'non_match'" in why


def test_the_split_never_puts_a_cluster_on_both_sides():
    """Planted clusters of 1 to 7 members across three classes: whole clusters go to one side,
    and validation gets about its share of each class."""
    import random

    from curate.export.stage import _split

    rng = random.Random(5)
    rows, cluster = [], 0
    while len(rows) < 600:
        size = rng.randint(1, 7)
        cls = rng.choice(["a", "b", "c"])
        rows += [{"cluster_id": f"c{cluster}", "class": cls} for _ in range(size)]
        cluster += 1
    assert sum(1 for c in Counter(r["cluster_id"] for r in rows).values() if c > 1) > 50
    _split(rows, 0.2, seed=9)
    sides: dict[str, set[str]] = {}
    for row in rows:
        sides.setdefault(row["cluster_id"], set()).add(row["split"])
    assert all(len(s) == 1 for s in sides.values())
    for cls in ("a", "b", "c"):
        mine = [r for r in rows if r["class"] == cls]
        share = sum(r["split"] == "validation" for r in mine) / len(mine)
        assert 0.1 <= share <= 0.3, (cls, share)


def test_config_failures_stay_out_unless_asked(annotated, tmp_path):
    """A candidate whose failure the configuration fixes (triage) is not written by default."""
    import shutil

    from curate.core.workspace import Workspace

    workspace, config, _, _ = annotated
    copy = Workspace(tmp_path / ".curate", workspace.config_path)
    shutil.copytree(workspace.root, copy.root)
    candidates = copy.read_table("candidates")
    written = export_dataset(Project(copy, config), ExportSettings(name="all", seed=1))
    kept = [e["record_id"] for e in _manifest(copy, "all")["examples"]]
    config_ids = kept[:3]
    with copy.stage("balance") as run:  # as a balance with --include-config-failures leaves them
        run.write(
            "candidates",
            candidates.with_columns(
                pl.when(pl.col("record_id").is_in(config_ids))
                .then(pl.lit("config"))
                .otherwise(pl.col("triage"))
                .alias("triage")
            ),
        )
    project = Project(copy, config)
    default = export_dataset(project, ExportSettings(name="default", seed=1))
    reasons = {r["record_id"]: r["reason"] for r in default.excluded_records}
    assert all(
        reasons[i].startswith("a config failure, fixed without training") for i in config_ids
    )
    assert sum(default.written.values()) == sum(written.written.values()) - 3
    asked = export_dataset(
        project, ExportSettings(name="asked", seed=1, include_config_failures=True)
    )
    assert sum(asked.written.values()) == sum(written.written.values())
    triaged = {e["record_id"]: e["triage"] for e in _manifest(copy, "asked")["examples"]}
    assert {triaged[i] for i in config_ids} == {"config"}


def _manifest(workspace, name):
    return json.loads((workspace.root / "exports" / name / "manifest.json").read_text())
