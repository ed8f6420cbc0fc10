from __future__ import annotations

import polars as pl
import pytest

from curate.core.config import Config
from curate.core.errors import ConfigError
from curate.core.project import Project
from curate.core.tasks import LABEL, LABEL_STATUS, assign_tasks, load_tasks


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


def test_the_longest_spelling_an_output_starts_with_wins():
    """'non match' is read as non_match, not as the label 'non' it also starts with, whatever
    order the labels and synonyms come in."""
    for labels in (["non", "non_match", "match"], ["match", "non_match", "non"]):
        task = _task(
            {
                "kind": "classification",
                "labels": labels,
                "synonyms": {"non_match": ["not the same person"]},
            }
        )
        got = _labels(
            task,
            ["Non-Match: dates differ", "non", "non sense", "Not the same person.", "not the"],
        )
        assert got == [
            ("non_match", "ok"),
            ("non", "ok"),
            ("non", "ok"),
            ("non_match", "ok"),
            (None, "out_of_vocab"),
        ]


def test_ten_thousand_labels_are_read_right():
    labels = [f"code {i} ok" for i in range(10_000)]
    task = _task({"kind": "classification", "labels": labels})
    assert len(task.terms()) == 10_000
    outputs = [f"Code {i * 7 % 10_500} ok, because" for i in range(2_000)]
    got = _labels(task, outputs)
    for i, (label, status) in enumerate(got):
        code = i * 7 % 10_500
        assert (label, status) == (
            (f"code {code} ok", "ok") if code < 10_000 else (None, "out_of_vocab")
        )


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


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(?<=decision: )(\w+)", "look-around"),
        (r"(yes|no) \1", "backreferences"),
        (r"([a-z]+", "unclosed group"),
        (r"yes|no", "has no group"),
    ],
)
def test_parse_patterns_are_checked_by_the_engine_that_runs_them(tmp_path, pattern, message):
    """Python's `re` accepts look-around and back-references; polars' engine does not."""
    from curate.core.workspace import Workspace
    from curate.detect.stage import find_failures

    spec = {"kind": "classification", "labels": ["yes", "no"]}
    spec["parse"] = {"mode": "regex", "pattern": pattern}
    config = Config(data={"tasks": {"t": spec}})
    with pytest.raises(ConfigError, match=message):
        load_tasks(config)
    workspace = Workspace(tmp_path / ".curate")
    workspace.create()
    with pytest.raises(ConfigError, match=r"Rust.s regex engine|group 1"):
        find_failures(Project(workspace, config))


def _config_file(tmp_path, text):
    from curate.core.config import load_config

    path = tmp_path / "curate.toml"
    path.write_text(text)
    return load_config(path)


def test_unknown_task_keys_get_a_did_you_mean(tmp_path):
    with pytest.raises(
        ConfigError, match=r"unknown key 'output_shema' \(did you mean 'output_schema'"
    ):
        _config_file(tmp_path, '[tasks.t]\nkind = "generation"\noutput_shema = "x.json"\n')


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('labels = ["a", " "]', "is blank"),
        ('labels = ["a", ""]', "is blank"),
        ('labels = ["a", "b"]\n[tasks.t.synonyms]\na = [""]', "is blank"),
        ('labels = ["a", "!!"]', "no letters or digits"),
        ('labels = ["Non-Match", "non match"]', "reads the same"),
        ('labels = ["yes", "no"]\n[tasks.t.synonyms]\nyes = ["NO"]', "reads the same"),
    ],
)
def test_blank_and_colliding_labels_are_refused(tmp_path, toml, message):
    with pytest.raises(ConfigError, match=message):
        load_tasks(_config_file(tmp_path, f'[tasks.t]\nkind = "classification"\n{toml}\n'))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"patterns": [1, 2]}, r"item 1 \(1\) is a int; every item must be a str"),
        ({"patterns": "i can't"}, "expected a list"),
        ({"filter_reasons": [None]}, "item 1"),
    ],
)
def test_detector_options_of_the_wrong_element_type(settings, message):
    from curate.detect.detectors import available

    with pytest.raises(ConfigError, match=message):
        available()["refusal"](settings)


def test_detector_numbers_are_not_booleans():
    from curate.detect.detectors import available

    with pytest.raises(ConfigError, match="expected a float"):
        available()["low_confidence"]({"threshold": True})
    assert available()["low_confidence"]({"threshold": 1}).settings["threshold"] == 1
