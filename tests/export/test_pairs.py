"""Preference formats (dpo, openai-preference, kto): the person's correction against the output
that broke, in each trainer's documented shape, and never a pair that teaches nothing."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from curate.core.project import Project
from curate.core.tasks import Task
from curate.core.workspace import Workspace
from curate.export.checks import same_answer
from curate.export.stage import ExportSettings, export_dataset
from tests.export.test_export import annotated  # noqa: F401 - a fixture

ROLES = {"system", "user", "assistant", "tool"}


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _export(workspace, config, fmt, **settings):
    settings.setdefault("overwrite", True)
    result = export_dataset(
        Project(workspace, config),
        ExportSettings(name=fmt, format=fmt, validation_fraction=0.0, **settings),
    )
    folder = workspace.root / "exports" / fmt
    manifest = json.loads((folder / "manifest.json").read_text())
    return result, _lines(folder / "train.jsonl"), manifest


def _outputs(workspace) -> dict[str, str | None]:
    records = workspace.scan_records().select("record_id", "output").collect()
    return dict(records.iter_rows())


def _is_conversation(messages) -> bool:
    return (
        isinstance(messages, list)
        and messages
        and all(set(m) >= {"role", "content"} and m["role"] in ROLES for m in messages)
        and messages[-1]["role"] == "user"
    )


def test_dpo_pairs_the_correction_with_the_output_that_broke(annotated):  # noqa: F811
    """TRL's conversational preference type: prompt (the conversation), chosen and rejected
    (each one assistant message)."""
    workspace, config, special, _ = annotated
    result, lines, manifest = _export(workspace, config, "dpo")
    outputs = _outputs(workspace)
    assert lines and len(lines) == manifest["pairs"]["records"] == manifest["pairs"]["lines"]
    for line, entry in zip(lines, manifest["examples"], strict=True):
        assert set(line) == {"prompt", "chosen", "rejected"}
        assert _is_conversation(line["prompt"])
        (chosen,), (rejected,) = line["chosen"], line["rejected"]
        assert chosen["role"] == rejected["role"] == "assistant"
        assert rejected["content"] == outputs[entry["record_id"]]  # the model's own answer
        assert chosen["content"] != rejected["content"]
        assert entry["triage"] not in ("config", "infrastructure")
    reasons = {e["record_id"]: e["reason"] for e in manifest["excluded"]}
    assert reasons[special["control"]].startswith("a control confirmed correct")
    assert manifest["counts"]["written"] == result.written


def test_a_control_never_becomes_a_pair_even_with_the_controls_asked_for(annotated):  # noqa: F811
    workspace, config, special, _ = annotated
    _, _, manifest = _export(workspace, config, "dpo", include_controls=True)
    reasons = {e["record_id"]: e["reason"] for e in manifest["excluded"]}
    assert reasons[special["control"]] == "not paired, a control (its output was right)"
    assert all(e["record_id"] != special["control"] for e in manifest["examples"])


def test_openai_preference_is_openais_documented_shape(annotated):  # noqa: F811
    workspace, config, _, _ = annotated
    _, lines, _ = _export(workspace, config, "openai-preference")
    for line in lines:
        assert set(line) == {"input", "preferred_output", "non_preferred_output"}
        assert set(line["input"]) == {"messages"} and _is_conversation(line["input"]["messages"])
        for side in ("preferred_output", "non_preferred_output"):
            (message,) = line[side]
            assert message["role"] == "assistant" and isinstance(message["content"], str)


def test_kto_writes_both_sides_labelled_and_the_manifest_finds_them(annotated):  # noqa: F811
    workspace, config, _, _ = annotated
    dpo = _export(workspace, config, "dpo")[1]
    result, lines, manifest = _export(workspace, config, "kto")
    assert len(lines) == 2 * len(dpo) == result.written["train"]
    assert manifest["pairs"] == {"records": len(dpo), "lines": 2 * len(dpo)}
    for entry in manifest["examples"]:
        good, bad = (lines[i - 1] for i in entry["lines"])
        assert entry["line"] == entry["lines"][0]
        assert (good["label"], bad["label"]) == (True, False)
        assert good["prompt"] == bad["prompt"] and set(good) == {"prompt", "completion", "label"}
        assert good["completion"][0]["content"] != bad["completion"][0]["content"]


def test_every_pair_format_loads_with_datasets(annotated, tmp_path):  # noqa: F811
    import datasets

    workspace, config, _, _ = annotated
    for fmt, columns in (
        ("dpo", {"prompt", "chosen", "rejected"}),
        ("kto", {"prompt", "completion", "label"}),
        ("openai-preference", {"input", "preferred_output", "non_preferred_output"}),
    ):
        _export(workspace, config, fmt, hf_dir=tmp_path / fmt)
        loaded = datasets.load_from_disk(str(tmp_path / fmt))
        assert set(loaded["train"].column_names) == columns and loaded["train"].num_rows > 0


def test_no_pair_from_an_api_error_an_empty_output_or_an_equal_answer(annotated, tmp_path):  # noqa: F811
    """Planted: one candidate's output emptied, one marked an infrastructure failure (an API
    error), one whose output is the correction itself (respelled): none becomes a pair."""
    workspace, config, _, _ = annotated
    copy = Workspace(tmp_path / ".curate", workspace.config_path)
    shutil.copytree(workspace.root, copy.root)
    _, _, manifest = _export(copy, config, "dpo")
    paired = [e["record_id"] for e in manifest["examples"]]
    empty, api_error, equal = paired[:3]
    lines = _lines(copy.root / "exports" / "dpo" / "train.jsonl")
    correction = json.loads(lines[2]["chosen"][0]["content"])
    respelled = json.dumps(correction | {"decision": correction["decision"].replace("_", "-")})
    for part in copy.parts("records"):
        frame = pl.read_parquet(part)
        frame = frame.with_columns(
            pl.when(pl.col("record_id") == empty)
            .then(pl.lit("  "))
            .when(pl.col("record_id") == equal)
            .then(pl.lit(respelled))
            .otherwise(pl.col("output"))
            .alias("output")
        )
        frame.write_parquet(part)
    candidates = copy.read_table("candidates")
    with copy.stage("balance") as run:
        run.write(
            "candidates",
            candidates.with_columns(
                pl.when(pl.col("record_id") == api_error)
                .then(pl.lit("infrastructure"))
                .otherwise(pl.col("triage"))
                .alias("triage")
            ),
        )
    _, _, after = _export(copy, config, "dpo", include_config_failures=True)
    reasons = {e["record_id"]: e["reason"] for e in after["excluded"]}
    assert reasons[empty] == "not paired, no production output to prefer against"
    assert reasons[api_error] == (
        "not paired, a infrastructure failure (its output is no answer to prefer against)"
    )
    assert reasons[equal] == "not paired, the correction says what the production output said"
    assert after["pairs"]["records"] == manifest["pairs"]["records"] - 3


EM = Task(
    name="em",
    kind="classification",
    labels=["match", "non_match"],
    parse_mode="json",
    parse_field="decision",
    synonyms={"match": ["same"]},
)


@pytest.mark.parametrize(
    ("task", "chosen", "output", "same"),
    [
        (EM, '{"decision":"match","why":"x"}', '{"why": "x", "decision": "match"}', True),
        (EM, '{"decision":"match"}', '{"decision": "Match"}', True),
        (EM, '{"decision":"match"}', '{"decision": "same"}', True),  # a synonym of the label
        (EM, '{"decision":"match"}', '{"decision": "non_match"}', False),
        (EM, '{"decision":"match"}', '{"decision": "match", "why": "y"}', False),
        (EM, '{"decision":"match"}', '{"decision": "match",', False),  # broken JSON
        (EM, '{"decision":"match"}', "[1]", False),
        (
            Task(name="t", kind="classification", labels=["billing", "other"]),
            "billing",
            " Billing",
            True,
        ),
        (
            Task(name="t", kind="classification", labels=["billing", "other"]),
            "billing",
            "other",
            False,
        ),
        (Task(name="g", kind="generation"), "a  reply\n", "a reply", True),
        (Task(name="g", kind="generation"), "a reply", "a reply.", False),
    ],
)
def test_equal_after_the_tasks_normalisation(task, chosen, output, same):
    assert same_answer(task, chosen, output) is same
