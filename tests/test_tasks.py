from __future__ import annotations

import polars as pl
import pytest

from curate.config import Config
from curate.errors import ConfigError
from curate.tasks import LABEL, LABEL_STATUS, assign_tasks, load_tasks


def _task(spec):
    return load_tasks(Config(data={"tasks": {"t": spec}}))["t"]


def _labels(task, outputs):
    frame = pl.DataFrame({"output": outputs}, schema={"output": pl.String})
    return task.with_labels(frame).select(LABEL, LABEL_STATUS).rows()


def test_prefix_labels_with_synonyms_and_normalization():
    task = _task(
        {
            "kind": "pair_match",
            "labels": ["match", "non_match"],
            "synonyms": {"non_match": ["different", "no"]},
        }
    )
    got = _labels(task, ["Match.", "NON-MATCH: dob differs", "No", "maybe", "", None, "matches"])
    assert got == [
        ("match", "ok"),
        ("non_match", "ok"),
        ("non_match", "ok"),
        (None, "out_of_vocab"),
        (None, None),
        (None, None),
        (None, "out_of_vocab"),
    ]


def test_json_and_regex_modes():
    json_task = _task(
        {"kind": "classification", "labels": ["a", "b"], "parse": {"mode": "json", "field": "x"}}
    )
    assert _labels(json_task, ['{"x": "A"}', '{"y": 1}', "{bad", '{"x": "c"}']) == [
        ("a", "ok"),
        (None, "unparseable"),
        (None, "unparseable"),
        (None, "out_of_vocab"),
    ]
    regex_task = _task(
        {
            "kind": "classification",
            "labels": ["a", "b"],
            "parse": {"mode": "regex", "pattern": r"answer:\s*(\w+)"},
        }
    )
    assert _labels(regex_task, ["Answer: B", "b"]) == [("b", "ok"), (None, "unparseable")]


def test_case_sensitive_labels():
    task = _task(
        {"kind": "classification", "labels": ["A", "a"], "parse": {"case_sensitive": True}}
    )
    assert _labels(task, ["A", "a"]) == [("A", "ok"), ("a", "ok")]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "classification"}, "give its labels"),
        (
            {"kind": "classification", "labels": ["a"], "synonyms": {"b": ["x"]}},
            "names b, which are not in labels",
        ),
        ({"kind": "classification", "labels": ["a"], "parse": {"mode": "json"}}, "needs field"),
        (
            {
                "kind": "classification",
                "labels": ["a"],
                "parse": {"mode": "regex", "pattern": "a+"},
            },
            "has no group",
        ),
        (
            {
                "kind": "classification",
                "labels": ["a"],
                "parse": {"mode": "regex", "pattern": "(a"},
            },
            "is not a regex",
        ),
        ({"kind": "generation", "match": {"modle": "x"}}, r"\[tasks.t.match\] has modle"),
        ({"kind": "extraction", "output_schema": "missing.json"}, "no file at"),
    ],
)
def test_config_errors_say_what_to_do(spec, message):
    with pytest.raises(ConfigError, match=message):
        _task(spec)


def test_tasks_assigned_by_match_rules():
    tasks = load_tasks(
        Config(
            data={
                "tasks": {
                    "em": {"kind": "generation", "match": {"prompt_version": "entity_match@*"}},
                    "gpt": {"kind": "generation", "match": {"model": "gpt-4*"}},
                }
            }
        )
    )
    records = pl.LazyFrame(
        {
            "task": [None, None, "kept", None],
            "prompt_version": ["entity_match@v2", None, "entity_match@v1", None],
            "model": ["gpt-4o", "gpt-4o-mini", None, "claude"],
        }
    )
    assert assign_tasks(records, tasks).collect()["task"].to_list() == ["em", "gpt", "kept", None]
