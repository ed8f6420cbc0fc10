"""`curate export --eval`: whole clusters of failures held out as a test split, and a promptfoo
suite over them whose assertion is curate's own scoring. The real promptfoo CLI (installed by
`make promptfoo`, part of `make test`) runs the suite against a local OpenAI-compatible server on
127.0.0.1 that replays answers; its pass count must be curate's."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from curate.core.project import Project
from curate.export.stage import ExportSettings, export_dataset
from tests.conftest import unavailable
from tests.export.test_export import annotated  # noqa: F401 - a fixture
from tests.judge_server import JudgeServer

ROOT = Path(__file__).resolve().parents[2]


def promptfoo() -> Path:
    """The promptfoo CLI `make promptfoo` installed; in CI its absence fails the run."""
    found = sorted(ROOT.glob(".tools/promptfoo-*/node_modules/.bin/promptfoo"))
    if not found:
        unavailable("no promptfoo CLI under .tools/: run `make promptfoo` (make test does it)")
    return found[-1]


@pytest.fixture(scope="module")
def held_out(annotated):  # noqa: F811
    workspace, config, _, _ = annotated
    settings = ExportSettings(name="eval", eval_fraction=0.3, overwrite=True)
    result = export_dataset(Project(workspace, config), settings)
    folder = workspace.root / "exports" / "eval"
    manifest = json.loads((folder / "manifest.json").read_text())
    return result, folder, manifest


def test_the_test_split_is_whole_clusters_of_failures_only(held_out, annotated):  # noqa: F811
    result, folder, manifest = held_out
    by_split: dict[str, set[str]] = {}
    for entry in manifest["examples"]:
        by_split.setdefault(entry["split"], set()).add(entry["cluster_id"])
    assert set(by_split) == {"train", "validation", "test"}
    assert not by_split["test"] & (by_split["train"] | by_split["validation"])
    test = [e for e in manifest["examples"] if e["split"] == "test"]
    assert (
        len(test) == result.written["test"] == len((folder / "test.jsonl").read_text().splitlines())
    )
    total = sum(result.written.values())
    assert 0.15 * total <= len(test) <= 0.45 * total  # about the 30 % asked, in whole clusters
    # no control in the test split: it measures what broke
    candidates = annotated[0].read_table("candidates")
    controls = set(candidates.filter(candidates["is_control"])["record_id"])
    assert not {e["record_id"] for e in test} & controls


def test_without_eval_there_is_no_test_split(annotated):  # noqa: F811
    workspace, config, _, _ = annotated
    result = export_dataset(
        Project(workspace, config), ExportSettings(name="plain", overwrite=True)
    )
    assert set(result.written) == {"train", "validation"}
    assert not (workspace.root / "exports" / "plain" / "eval").exists()


def _run_suite(folder: Path, answer_for, tmp_path: Path) -> tuple[dict, int]:
    suite = folder / "eval"
    tests = yaml.safe_load((suite / "tests.yaml").read_text())
    by_prompt = {json.loads(t["vars"]["messages"])[-1]["content"]: t for t in tests}

    def answer(prompt: str) -> tuple[str, float]:
        return answer_for(by_prompt[prompt]), -0.05

    shared = ROOT.parent / "shared" / "data"
    with JudgeServer(shared, answer) as server:
        env = os.environ | {
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": server.url,
            "PROMPTFOO_PYTHON": sys.executable,
            "PROMPTFOO_DISABLE_TELEMETRY": "1",
            "PROMPTFOO_DISABLE_UPDATE": "1",
            "PROMPTFOO_CONFIG_DIR": str(tmp_path / "promptfoo"),
        }
        out = tmp_path / "results.json"
        command = [str(promptfoo()), "eval", "-c", str(suite / "promptfooconfig.yaml")]
        command += ["-o", str(out), "--no-cache", "--no-progress-bar", "--no-table"]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        requests = len(server.requests)
    assert out.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text()), requests


def test_promptfoo_passes_exactly_what_curate_scores_right(held_out, tmp_path):
    result, folder, _ = held_out
    from curate.rewards import Rewards

    # the replayed model gets every other held-out record right: the answer people gave, or
    # the other label; one answer is broken JSON
    def answer_for(test) -> str:
        number = int(test["metadata"]["record_id"], 16) % 3
        label = test["vars"]["answer"]
        if number == 0:
            return json.dumps({"decision": label, "confidence": 0.9})
        if number == 1:
            return json.dumps({"decision": "match" if label == "non_match" else "non_match"})
        return '{"decision": "' + label

    results, requests = _run_suite(folder, answer_for, tmp_path)
    rows = results["results"]["results"]
    assert len(rows) == requests == result.written["test"]
    # curate's own scoring of the same answers, in this process
    spec = importlib.util.spec_from_file_location(
        "suite_assert", folder / "eval" / "curate_assert.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rewards: Rewards = module._rewards
    outputs = [r["response"]["output"] for r in rows]
    tasks = [r["vars"]["task"] for r in rows]
    answers = [r["vars"]["answer"] for r in rows]
    ours = rewards.correct(outputs, tasks, answers)
    passed = sum(1 for r in rows if r["success"])
    assert passed == sum(ours) == results["results"]["stats"]["successes"]
    assert 0 < passed < len(rows)
    expected = sum(1 for r in rows if int(r["testCase"]["metadata"]["record_id"], 16) % 3 == 0)
    assert passed == expected
    failed = [r for r in rows if not r["success"]]
    reasons = {r["gradingResult"]["componentResults"][0]["reason"] for r in failed}
    assert any("reference_mismatch" in x for x in reasons) and any(
        "invalid_json" in x for x in reasons
    )


def test_the_suites_results_ingest_beside_the_logs_and_compare_on_the_same_inputs(
    annotated,  # noqa: F811
    held_out,
    tmp_path,
):
    """The loop closed: the suite run against the "fine-tuned" model, its results ingested
    (the promptfoo format), detected against the held-out answers, and compared with the
    production model on exactly those inputs. The suite sends the conversations as logged
    here: the task's redaction policy leaves "eval" out of `where`."""
    from curate.core.config import load_config
    from curate.detect.stage import find_failures
    from curate.ingest.stage import ingest_logs
    from curate.report.stage import build_report

    workspace, config, _, _ = annotated
    policy = '\n[tasks.entity_match.redact]\nwhere = ["queue", "export", "judge"]\n'
    logged_toml = config.path.with_name("curate-eval.toml")
    logged_toml.write_text(config.path.read_text() + policy)
    logged = Project(workspace, load_config(logged_toml))
    result = export_dataset(logged, ExportSettings(name="eval-logged", eval_fraction=0.3))
    folder = workspace.root / "exports" / "eval-logged"
    redacted_suite = (held_out[1] / "eval" / "tests.yaml").read_text()
    assert "<EMAIL_ADDRESS_" in redacted_suite  # the default policy redacts the suite too
    assert "<EMAIL_ADDRESS_" not in (folder / "eval" / "tests.yaml").read_text()

    config_path = folder / "eval" / "promptfooconfig.yaml"
    suite = yaml.safe_load(config_path.read_text())
    old_model = suite["providers"][0]["id"].removeprefix("openai:chat:")
    suite["providers"] = [{"id": "openai:chat:ft:gpt-4o-mini:curate-test"}]
    config_path.write_text(yaml.safe_dump(suite))
    wrong = set()

    def answer_for(test) -> str:
        label = test["vars"]["answer"]
        if int(test["metadata"]["record_id"], 16) % 2:
            wrong.add(test["metadata"]["record_id"])
            return json.dumps({"decision": "match" if label == "non_match" else "non_match"})
        return json.dumps({"decision": label, "confidence": 0.9, "reason": "same person"})

    _run_suite(folder, answer_for, tmp_path)
    path = tmp_path / "results.json"
    ingested = ingest_logs(logged, [path])
    n = result.written["test"]
    assert ingested.ingested == n and ingested.quarantined == 0
    assert ingested.sources[0].format == "promptfoo"
    again = ingest_logs(logged, [path])  # idempotent
    assert again.ingested == 0 and again.duplicates == n

    new = workspace.scan_records().filter(pl.col("model") == "ft:gpt-4o-mini:curate-test")
    new = new.collect()
    assert new.height == n and set(new["task"]) == {"entity_match"}
    held = {json.loads(m)["record_id"] for m in new["metadata"]}
    test_ids = {
        e["record_id"]
        for e in json.loads((folder / "manifest.json").read_text())["examples"]
        if e["split"] == "test"
    }
    assert held == test_ids

    find_failures(logged)
    findings = workspace.read_table("findings").join(new.select("record_id"), on="record_id")
    mismatched = findings.filter(findings["detector"] == "reference_mismatch")
    by_held = dict(
        zip(new["record_id"], (json.loads(m)["record_id"] for m in new["metadata"]), strict=True)
    )
    assert {by_held[r] for r in mismatched["record_id"]} == wrong

    report = build_report(logged, compare_with=(old_model, "ft:gpt-4o-mini:curate-test"))
    compared = report["compare"]
    assert compared["b"]["calls"] == n
    assert compared["any_failure"]["paired"]["inputs"] == n  # every held-out input, both sides


def test_the_command_line_says_what_it_held_out(annotated, runner):  # noqa: F811
    from curate.cli import main

    workspace, config, _, _ = annotated
    args = ["--workspace", str(workspace.root), "--config", str(config.path), "export"]
    done = runner.invoke(main, [*args, "--name", "cli-eval", "--eval", "--eval-fraction", "0.3"])
    assert done.exit_code == 0, done.output
    said = " ".join(done.output.split())
    assert "held-out test (eval/: the promptfoo suite)" in said
    assert (workspace.root / "exports" / "cli-eval" / "eval" / "promptfooconfig.yaml").is_file()
