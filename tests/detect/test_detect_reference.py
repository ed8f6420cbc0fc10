"""curate's polars detectors flag exactly what a plain per-record implementation flags.

bench/reference.py writes every built-in check the way a user would by hand; on the bundled
sample logs (two tasks, every kind of planted failure) both must find the same records.
"""

from __future__ import annotations

import importlib.util
import json
import tomllib

import polars as pl

from curate.core.config import load_config
from curate.core.project import Project
from curate.detect.stage import find_failures, read_findings
from curate.ingest.stage import ingest_logs
from tests.conftest import REPO, SAMPLE


def _reference():
    spec = importlib.util.spec_from_file_location("reference", REPO / "bench" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sample_findings_equal_the_plain_python_checks(tmp_path):
    from curate.core.workspace import Workspace

    workspace = Workspace(tmp_path / ".curate")
    config = load_config(SAMPLE / "curate.toml")
    ingest_logs(
        Project(workspace, config),
        [SAMPLE / "entity_match_chat.jsonl.gz"],
        task="entity_match",
        references=SAMPLE / "entity_match_references.csv",
    )
    ingest_logs(
        Project(workspace, config),
        [SAMPLE / "ticket_batch_output.jsonl", SAMPLE / "ticket_batch_input.jsonl"],
        task="ticket_topic",
        references=SAMPLE / "ticket_references.csv",
    )
    find_failures(Project(workspace, config))
    found = read_findings(workspace)

    tasks = tomllib.loads((SAMPLE / "curate.toml").read_text())["tasks"]
    tasks["entity_match"]["schema"] = json.loads(
        (SAMPLE / "entity_match_output.schema.json").read_text()
    )
    records = workspace.scan_records().collect().to_dicts()
    expected = _reference().find_all(records, tasks)

    for detector in sorted(set(expected) | set(found["detector"])):
        got = set(found.filter(pl.col("detector") == detector)["record_id"])
        assert got == expected.get(detector, set()), detector
    # the sample has every kind of failure the generator plants
    assert {
        "invalid_json",
        "schema_violation",
        "label_out_of_vocab",
        "truncated",
        "refusal",
        "api_error",
        "negative_feedback",
        "reference_mismatch",
        "inconsistent",
    } <= set(expected)


def test_batch_counts_match_an_independent_count(tmp_path):
    """Truncated, unparseable and mismatched records of a Batch API file with known answers."""
    from curate.core.workspace import Workspace

    workspace = Workspace(tmp_path / ".curate")
    config = load_config(SAMPLE / "curate.toml")
    ingest_logs(
        Project(workspace, config),
        [SAMPLE / "ticket_batch_output.jsonl", SAMPLE / "ticket_batch_input.jsonl"],
        task="ticket_topic",
        references=SAMPLE / "ticket_references.csv",
    )
    result = find_failures(Project(workspace, config))

    labels = ["billing", "technical", "account", "shipping", "other"]
    answers = dict(
        line.split(",") for line in (SAMPLE / "ticket_references.csv").read_text().split()[1:]
    )
    truncated = unparseable = mismatched = hit_limit = 0
    for line in (SAMPLE / "ticket_batch_output.jsonl").read_text().splitlines():
        item = json.loads(line)
        body = item["response"]["body"]
        if "choices" not in body:
            continue
        choice = body["choices"][0]
        words = "".join(
            c if c.isalnum() else " " for c in choice["message"]["content"].lower()
        ).split()
        at_limit = choice["finish_reason"] == "length"
        hit_limit += at_limit
        # a cut answer fails when no label was read and the words could still grow into one
        cut_short = at_limit and (
            not words
            or (words[0] not in labels and any(x.startswith(" ".join(words)) for x in labels))
        )
        truncated += cut_short
        if not words:
            unparseable += 1
            continue
        label = words[0] if words[0] in labels else " ".join(words)
        reference = answers.get(item["custom_id"])
        mismatched += reference is not None and label != reference
    # 20 calls hit max_tokens; every one of them after its label was written
    assert hit_limit == result.token_limit["calls"] == 20
    assert result.detectors["truncated"]["count"] == truncated == 0
    assert result.token_limit["complete"] + result.token_limit["failing_otherwise"] == 20
    assert result.detectors["label_unparseable"]["count"] == unparseable
    assert result.detectors["reference_mismatch"]["count"] == mismatched
