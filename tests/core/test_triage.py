"""Triage of findings: every class from hand-written records, the record's class the most basic
of its findings', and the rules table the README shows."""

from __future__ import annotations

import polars as pl

from curate.core.config import Config
from curate.core.project import Project
from curate.core.triage import CLASSES, RULES, rules_table
from curate.detect.stage import find_failures, read_findings
from tests.detect.detectors.helpers import LABELS, TOPICS, put


def _triage(workspace, rows, task=None, tasks=None):
    ids = put(workspace, rows, task=task)
    result = find_failures(Project(workspace, Config(data={"tasks": tasks or {}})))
    findings = read_findings(workspace)
    got = {}
    for record_id in ids:
        mine = findings.filter(pl.col("record_id") == record_id)
        got[record_id] = dict(zip(mine["detector"], mine["triage"], strict=True))
    return ids, got, result


def test_every_class_from_its_rule(workspace):
    rows = [
        {"output": None, "error": "Rate limit reached for gpt-4o-mini", "status_code": 429},
        {
            "output": None,
            "error": "This model's maximum context length is 8192 tokens",
            "status_code": 400,
        },
        {"output": "I'm sorry, but I can't help with that."},
        {"output": "", "finish_reason": "content_filter"},
        {"output": "", "finish_reason": "stop"},
    ]
    ids, got, _ = _triage(workspace, rows)
    assert got[ids[0]]["api_error"] == "infrastructure"
    assert got[ids[1]]["api_error"] == "config"
    assert got[ids[2]]["refusal"] == "safety"
    assert got[ids[3]]["empty_output"] == "safety"
    assert got[ids[4]]["empty_output"] == "format"


def test_labels_format_or_decision_by_the_reference(workspace):
    rows = [
        {"output": "billng", "reference": "billing"},  # near the reference: the form is wrong
        {"output": "refunds", "reference": "billing"},  # not a spelling of the reference
        {"output": "technical", "reference": "billing"},  # readable, and wrong
        {"output": "billng"},  # no reference: only the form is known to be wrong
    ]
    ids, got, _ = _triage(workspace, rows, task="t", tasks={"t": TOPICS})
    assert got[ids[0]] == {"label_out_of_vocab": "format", "reference_mismatch": "decision"}
    assert got[ids[1]]["label_out_of_vocab"] == "decision"
    assert got[ids[2]] == {"reference_mismatch": "decision"}
    assert got[ids[3]] == {"label_out_of_vocab": "format"}


def test_the_right_answer_in_other_words_is_a_format_failure(workspace):
    """No task to read labels by: an output that holds the reference among other words."""
    rows = [
        {"output": "Topic: Account.", "reference": "account"},
        {"output": "Accounting", "reference": "account"},  # not the word itself
        {"output": "billing", "reference": "account"},
    ]
    ids, got, _ = _triage(workspace, rows)
    assert [got[i]["reference_mismatch"] for i in ids] == ["format", "decision", "decision"]


def test_a_readable_label_that_disagrees_is_a_decision(workspace):
    """'non_match' holds the word 'match': with a label read, it is a decision all the same."""
    rows = [{"output": '{"decision": "non_match"}', "reference": "match"}]
    ids, got, _ = _triage(workspace, rows, task="em", tasks={"em": LABELS})
    assert got[ids[0]] == {"reference_mismatch": "decision"}


def test_a_record_falls_in_its_most_basic_class(workspace):
    """Cut at max_tokens, the answer is also invalid JSON: raising max_tokens fixes both."""
    rows = [
        {"output": '{"decision": "ma', "finish_reason": "length"},
        {"output": '{"decision": "maybe"'},  # cut, but not at the limit: the form
    ]
    ids, got, result = _triage(workspace, rows, task="em", tasks={"em": LABELS})
    assert got[ids[0]]["truncated"] == "config" and got[ids[0]]["invalid_json"] == "format"
    assert got[ids[1]]["truncated"] == "format"
    assert result.triage["config"]["records"] == 1
    assert result.triage["format"]["records"] == 1
    assert result.triage["config"]["share"] == 0.5
    assert list(result.triage) == list(CLASSES)


def test_the_rules_table_names_real_detectors_and_classes():
    from curate.detect.detectors import available

    names = set(available())
    for row in rules_table():
        assert row["detector"] in names and row["triage"] in CLASSES
    named = {rule.detector for rule in RULES}
    assert names <= named, f"built-in detectors without a rule: {names - named}"


def test_the_readme_shows_the_rules_as_they_are():
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    for row in rules_table():
        line = f"| `{row['detector']}` | {row['when']} | {row['triage']} | {row['why']} |"
        assert line in readme, line
