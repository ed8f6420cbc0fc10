"""`curate export --format grpo`: prompt-only rows with the known answer, and a rewards.py whose
functions (TRL's reward-function signature) are curate's own detectors. Scored on the exported
rows: a person's correction earns full reward, the production output that broke does not."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from curate.core.project import Project
from curate.export.stage import ExportSettings, export_dataset
from tests.export.test_export import annotated  # noqa: F401 - a fixture

REWARDS = ("correct", "well_formed", "complete")


@pytest.fixture(scope="module")
def grpo(annotated):  # noqa: F811
    workspace, config, _, _ = annotated
    settings = ExportSettings(name="grpo", format="grpo", trainer="trl", overwrite=True)
    settings.validation_fraction = 0.0
    result = export_dataset(Project(workspace, config), settings)
    folder = workspace.root / "exports" / "grpo"
    spec = importlib.util.spec_from_file_location("exported_rewards", folder / "rewards.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = [json.loads(x) for x in (folder / "train.jsonl").read_text().splitlines()]
    manifest = json.loads((folder / "manifest.json").read_text())
    outputs = dict(workspace.scan_records().select("record_id", "output").collect().iter_rows())
    return result, folder, module, rows, manifest, outputs


def _score(module, completions, rows) -> dict[str, list[float]]:
    columns = {k: [r[k] for r in rows] for k in ("task", "answer")}
    return {
        f: getattr(module, f)(completions=completions, **columns, prompts=None) for f in REWARDS
    }


def test_rows_are_prompt_only_with_the_known_answer(grpo):
    result, folder, _, rows, manifest, _ = grpo
    assert len(rows) == result.written["train"] > 10
    for row, entry in zip(rows, manifest["examples"], strict=True):
        assert set(row) == {"prompt", "task", "answer"}
        assert row["prompt"][-1]["role"] == "user" and row["task"] == entry["task"]
        assert row["answer"] in ("match", "non_match")  # the label, read as the task reads it
    args = (folder / "trl.yaml").read_text()
    assert "reward_funcs:\n- rewards.correct\n- rewards.well_formed\n- rewards.complete" in args


def test_the_correction_earns_full_reward_and_the_broken_output_does_not(grpo):
    _, _, module, rows, manifest, outputs = grpo
    # conversational completions, as GRPOTrainer hands them to a chat model's rewards
    answers = [
        [{"role": "assistant", "content": json.dumps({"decision": r["answer"]})}] for r in rows
    ]
    assert _score(module, answers, rows) == {f: [1.0] * len(rows) for f in REWARDS}
    broken = [outputs[e["record_id"]] for e in manifest["examples"]]
    scores = _score(module, broken, rows)
    totals = [sum(s) for s in zip(*scores.values(), strict=True)]

    def decision(text):  # the sample's outputs name the label exactly, when they are JSON
        try:
            value = json.loads(text or "")
        except json.JSONDecodeError:
            return None
        return value.get("decision") if isinstance(value, dict) else None

    wrong = [i for i, r in enumerate(rows) if decision(broken[i]) != r["answer"]]
    assert len(wrong) >= len(rows) // 3
    assert all(totals[i] < 3.0 for i in wrong)  # ("yes" may be a synonym: right, ill-formed)
    # and where the model said the answer, `correct` says so (its failure was another one)
    right = [i for i in range(len(rows)) if i not in wrong]
    assert right and all(scores["correct"][i] == 1.0 for i in right)


def test_each_reward_is_the_rule_of_its_detector(grpo):
    _, _, module, rows, _, _ = grpo
    row = [rows[0]] * 5
    right = json.dumps({"decision": rows[0]["answer"]})
    other = "match" if rows[0]["answer"] == "non_match" else "non_match"
    completions = [
        right,  # right
        json.dumps({"decision": other}),  # well formed, wrong
        json.dumps({"decision": "maybe"}),  # a label outside the vocabulary
        '{"decision": "ma',  # cut inside the JSON
        "",  # nothing
    ]
    scores = _score(module, completions, row)
    assert scores["correct"] == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert scores["well_formed"] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert scores["complete"] == [1.0, 1.0, 1.0, 0.0, 1.0]


def test_plain_text_completions_are_scored_too(grpo):
    _, _, module, rows, _, _ = grpo
    texts = [json.dumps({"decision": r["answer"]}) for r in rows[:3]]
    assert (
        module.correct(
            completions=texts,
            task=[r["task"] for r in rows[:3]],
            answer=[r["answer"] for r in rows[:3]],
        )
        == [1.0] * 3
    )
    assert "curate.rewards" in sys.modules
