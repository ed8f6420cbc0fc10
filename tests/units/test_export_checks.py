"""Export's pieces without a workspace: the assistant turn from people's answers, OpenAI's
format checks, the leak-free split (whole clusters, about the fraction of each class, seeded)
and the export name."""

from __future__ import annotations

from collections import Counter

import pytest

from curate.core.errors import ExportError
from curate.core.tasks import Task
from curate.export.checks import (
    CHECKS,
    Candidate,
    Checking,
    assistant_turn,
    check_openai_example,
    confirmed_control,
    discarded,
    duplicate,
    fixed_without_training,
    left_out,
    messages_for,
    too_long,
    unknown_task,
    unresolved,
)
from curate.export.stage import _split, check_export_name

SCHEMA = {
    "type": "object",
    "properties": {"decision": {"enum": ["match", "non_match"]}, "why": {"type": "string"}},
    "required": ["decision"],
}


def _json_task(schema=SCHEMA) -> Task:
    return Task(
        name="em",
        kind="classification",
        labels=["match", "non_match"],
        parse_mode="json",
        parse_field="decision",
        output_schema=schema,
    )


def _text_task() -> Task:
    return Task(name="topic", kind="classification", labels=["billing", "other"])


def test_a_label_alone_is_the_models_output_with_the_label():
    turn = assistant_turn(
        _json_task(), {"label": "match"}, '{"why": "same dob", "decision": "non_match"}'
    )
    assert turn == ('{"decision":"match","why":"same dob"}', None)
    # output that is no JSON object: the label alone
    assert assistant_turn(_json_task(), {"label": "match"}, "[1]") == ('{"decision":"match"}', None)
    assert assistant_turn(_json_task(), {"label": "match"}, "{oops") == (
        '{"decision":"match"}',
        None,
    )
    assert assistant_turn(_json_task(), {"label": "match"}, None) == ('{"decision":"match"}', None)
    assert assistant_turn(_text_task(), {"label": "billing"}, "Billing!") == ("billing", None)


def test_a_corrected_output_wins_and_is_canonical_json():
    corrected = '{ "why": "é", "decision": "match" }'
    got = assistant_turn(_json_task(), {"corrected_output": corrected}, "x")
    assert got == ('{"decision":"match","why":"é"}', None)  # sorted, compact, not ASCII-escaped
    # the label's spelling in the training set is the label's own
    task = Task(
        name="em",
        kind="classification",
        labels=["match", "non_match"],
        synonyms={"non_match": ["different"]},
        parse_mode="json",
        parse_field="decision",
    )
    got = assistant_turn(
        task, {"corrected_output": '{"decision": "Non-Match"}', "label": "non_match"}, ""
    )
    assert got == ('{"decision":"non_match"}', None)
    got = assistant_turn(
        task, {"corrected_output": '{"decision": "different"}', "label": "non_match"}, ""
    )
    assert got == ('{"decision":"non_match"}', None)
    # plain text tasks keep the text as corrected
    assert assistant_turn(_text_task(), {"corrected_output": "Other."}, "x") == ("Other.", None)


@pytest.mark.parametrize(
    ("answers", "why"),
    [
        ({}, "no corrected output and no label resolved"),
        ({"corrected_output": ""}, "no corrected output and no label resolved"),
        (
            {"corrected_output": "{no"},
            "the corrected output is not JSON (Expecting property name enclosed in double quotes)",
        ),
        (
            {"corrected_output": '{"decision": "maybe"}'},
            "the corrected output breaks the task schema: 'maybe' is not one of ['match', 'non_match']",
        ),
        (
            {"corrected_output": '{"decision": "match"}', "label": "non_match"},
            "the corrected output says 'match' but the resolved label is 'non_match'",
        ),
    ],
)
def test_why_an_answer_makes_no_example(answers, why):
    assert assistant_turn(_json_task(), answers, '{"decision": "match"}') == (None, why)


def test_json_without_a_schema_is_only_parsed():
    task = _json_task(schema=None)
    assert assistant_turn(task, {"corrected_output": '{"other": 1}'}, "") == ('{"other":1}', None)
    # a corrected output without the field, and a label: kept as written
    got = assistant_turn(task, {"corrected_output": '{"other": 1}', "label": "match"}, "")
    assert got == ('{"other":1}', None)


def test_messages_take_the_new_system_prompt_first():
    messages = [
        {"role": "system", "content": "old"},
        {"role": "user", "content": "q", "name": "ann", "tool_call_id": None},
        {"role": "tool", "content": "42", "tool_call_id": "call_1", "name": ""},
    ]
    assert messages_for(messages, None) == [
        {"role": "system", "content": "old"},
        {"role": "user", "content": "q", "name": "ann"},
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
    ]
    assert messages_for(messages, "new")[:2] == [
        {"role": "system", "content": "new"},
        {"role": "user", "content": "q", "name": "ann"},
    ]
    assert len(messages_for(messages, "new")) == 3 and messages_for(None, None) == []


@pytest.mark.parametrize(
    ("example", "problem"),
    [
        ({}, "no messages"),
        ({"messages": []}, "no messages"),
        ({"messages": "hi"}, "no messages"),
        ({"messages": ["hi"]}, "a message is not an object"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "unknown role 'bot'"),
        (
            {"messages": [{"role": "user", "content": "x", "extra": 1}]},
            "unknown message keys ['extra']",
        ),
        ({"messages": [{"role": "user", "content": ""}]}, "a user message has no content"),
        ({"messages": [{"role": "user", "content": None}]}, "a user message has no content"),
        ({"messages": [{"role": "user", "content": ["x"]}]}, "a message content is not text"),
        ({"messages": [{"role": "user", "content": "x"}]}, "no assistant message"),
        (
            {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
            None,
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [{"id": "1"}],
                        "weight": 1,
                    },
                    {"role": "tool", "content": "r", "tool_call_id": "1", "name": "f"},
                    {"role": "assistant", "content": "done", "function_call": None},
                ]
            },
            None,
        ),
    ],
)
def test_openai_format_checks(example, problem):
    assert check_openai_example(example) == problem


def _rows(clusters: dict[str, tuple[str, int]]) -> list[dict]:
    return [
        {"cluster_id": c, "class": cls, "i": i}
        for c, (cls, size) in clusters.items()
        for i in range(size)
    ]


def test_the_split_keeps_clusters_whole_and_each_class_near_its_fraction():
    clusters = {f"m{i}": ("match", 1 + i % 3) for i in range(40)}
    clusters |= {f"n{i}": ("non_match", 1 + i % 2) for i in range(30)}
    rows = _rows(clusters)
    _split(rows, 0.2, seed=3)
    sides = {c: {r["split"] for r in rows if r["cluster_id"] == c} for c in clusters}
    assert all(len(s) == 1 for s in sides.values())  # no cluster on both sides
    for cls in ("match", "non_match"):
        mine = [r for r in rows if r["class"] == cls]
        share = sum(r["split"] == "validation" for r in mine) / len(mine)
        # whole clusters: the share passes the fraction by less than one cluster (3 rows)
        assert 0.2 <= share < 0.2 + 3 / len(mine)
    again = _rows(clusters)
    _split(again, 0.2, seed=3)
    assert [r["split"] for r in again] == [r["split"] for r in rows]  # seeded
    other = _rows(clusters)
    _split(other, 0.2, seed=4)
    assert [r["split"] for r in other] != [r["split"] for r in rows]


def test_a_cluster_goes_with_its_most_common_class_and_zero_is_all_train():
    rows = [
        {"cluster_id": "c1", "class": "a"},
        {"cluster_id": "c1", "class": "b"},
        {"cluster_id": "c1", "class": "b"},
        {"cluster_id": "c2", "class": "a"},
    ]
    _split(rows, 0.5, seed=0)
    # class b has one cluster (c1, 3 rows; want round(1.5) = 2): it goes to validation whole;
    # class a has c2 (1 row, want round(0.5) = 0): train
    assert [r["split"] for r in rows] == ["validation"] * 3 + ["train"]
    _split(rows, 0.0, seed=0)
    assert Counter(r["split"] for r in rows) == {"train": 4}


@pytest.mark.parametrize("name", ["em-v1", "a", "v1.2_final", "A" * 100])
def test_plain_export_names(name):
    assert check_export_name(name) == name


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "a..b", "-x", "A" * 101, "é", "a b"])
def test_export_names_that_are_no_plain_folder(name):
    with pytest.raises(ExportError) as raised:
        check_export_name(name)
    assert str(raised.value) == (
        f"--name {name!r}: give a plain folder name (letters, digits, '.', '_', '-'; no '/' or "
        "'..'), e.g. --name em-v1; the export goes to the workspace's exports/NAME/"
    )


def test_an_empty_corrected_output_falls_back_to_the_label():
    assert assistant_turn(_json_task(), {"corrected_output": "", "label": "match"}, "") == (
        '{"decision":"match"}',
        None,
    )
    # a field to read labels from, but a task that does not answer in JSON: the label alone
    prefix = Task(name="t", kind="classification", labels=["a", "b"], parse_field="decision")
    assert assistant_turn(prefix, {"label": "a"}, '{"decision": "b"}') == ("a", None)


def test_a_case_sensitive_task_does_not_fold_the_label_it_reads():
    task = Task(
        name="t",
        kind="classification",
        labels=["yes", "no"],
        case_sensitive=True,
        parse_mode="json",
        parse_field="answer",
    )
    got = assistant_turn(task, {"corrected_output": '{"answer": "YES"}', "label": "yes"}, "")
    assert got == (None, "the corrected output says 'YES' but the resolved label is 'yes'")


# -- the named checks, one by one and in their order (curate/export/checks.py) ----------------


class _Words:
    """A tokenizer stand-in: one token per word, so lengths are counted by hand."""

    @staticmethod
    def encode(text: str) -> list[str]:
        return text.split()


def _checking(**settings) -> Checking:
    from curate.export.exporters import get_exporter
    from curate.export.settings import ExportResult, ExportSettings

    return Checking(
        project=None,
        settings=ExportSettings(**settings),
        result=ExportResult(folder=""),
        discarded={"gone"},
        policies={"topic": None},
        encoding=_Words(),
        openai=get_exporter("openai"),
    )


def _candidate(answers=None, task=True, **record) -> Candidate:
    row = {"record_id": "r1", "task": "topic", "triage": "decision", "is_control": False}
    row |= {"output": "wrong", "messages": [{"role": "user", "content": "my card was charged"}]}
    return Candidate(row | record, _text_task() if task else None, answers)


def test_a_discarded_record_is_left_out_and_only_it():
    run = _checking()
    assert discarded(_candidate(record_id="gone"), run) == "discarded by an annotator"
    assert discarded(_candidate(record_id="kept"), run) is None


@pytest.mark.parametrize("triage", ["config", "infrastructure"])
def test_a_failure_fixed_without_training_is_left_out_unless_asked_for(triage):
    why = f"a {triage} failure, fixed without training (--include-config-failures writes it)"
    assert fixed_without_training(_candidate(triage=triage), _checking()) == why
    assert (
        fixed_without_training(_candidate(triage=triage), _checking(include_config_failures=True))
        is None
    )
    for other in ("decision", "format", "safety", None):
        assert fixed_without_training(_candidate(triage=other), _checking()) is None


def test_an_unresolved_record_is_left_out():
    why = "not resolved: not answered yet"
    assert unresolved(_candidate(None), _checking()) == why
    assert unresolved(_candidate({}), _checking()) == why
    assert unresolved(_candidate({"label": "billing"}), _checking()) is None
    run = _checking()
    run.disagreed = {"r1"}
    assert unresolved(_candidate(None), run) == (
        "not resolved: annotators disagree, waiting for adjudication (curate queue pull sent it "
        "to curate-topic-adjudication)"
    )
    # a question still in conflict waits, whatever else was resolved
    assert unresolved(_candidate({"is_failure": "yes"}), run).endswith("topic-adjudication)")


@pytest.mark.parametrize(
    ("is_control", "said", "left_out"),
    [
        (False, "no", True),  # people say the model was right: a control after all
        (False, "yes", False),
        (False, None, False),
        (True, None, True),  # a control nobody called a failure
        (True, "no", True),
        (True, "yes", False),  # a control people found broken: a failure
    ],
)
def test_a_confirmed_control_is_left_out_unless_asked_for(is_control, said, left_out):
    answers = {"label": "billing"} | ({"is_failure": said} if said else {})
    candidate = _candidate(answers, is_control=is_control)
    why = "a control confirmed correct (use --include-controls)"
    assert confirmed_control(candidate, _checking()) == (why if left_out else None)
    assert confirmed_control(candidate, _checking(include_controls=True)) is None


def test_a_task_not_in_curate_toml_is_left_out_with_its_name():
    candidate = _candidate({"label": "billing"}, task=False)
    assert unknown_task(candidate, _checking()) == "task 'topic' is not in curate.toml"
    assert unknown_task(_candidate({"label": "billing"}), _checking()) is None


def test_too_long_counts_every_turn_and_the_overhead_against_the_limit():
    candidate = _candidate({"label": "billing"})
    # 4 words of the user turn + 1 of the answer, 4 a message, 2 a conversation: 5 + 8 + 2
    candidate.openai = {
        "messages": [
            {"role": "user", "content": "my card was charged"},
            {"role": "assistant", "content": "billing"},
        ]
    }
    assert too_long(candidate, _checking(max_tokens=15)) is None
    assert candidate.tokens == 15
    assert too_long(candidate, _checking(max_tokens=14)) == "too long: 15 tokens > 14"
    candidate.openai["messages"][0]["content"] = None  # no text counts as none
    assert too_long(candidate, _checking(max_tokens=11)) is None and candidate.tokens == 11
    # a pair counts the longer of its answers: the correction "billing" (1) against 3 words
    candidate.answer, candidate.rejected = "billing", "it is billing"
    assert too_long(candidate, _checking(max_tokens=13)) is None and candidate.tokens == 13
    assert too_long(candidate, _checking(max_tokens=12)) == "too long: 13 tokens > 12"
    candidate.rejected = "x"  # a shorter rejected side adds nothing
    assert too_long(candidate, _checking(max_tokens=11)) is None and candidate.tokens == 11


def test_a_second_equal_example_is_a_duplicate_and_a_different_one_is_not():
    run = _checking()
    first, again, other = (_candidate({"label": "billing"}) for _ in range(3))
    first.openai = again.openai = {"messages": [{"role": "assistant", "content": "billing"}]}
    other.openai = {"messages": [{"role": "assistant", "content": "other"}]}
    assert duplicate(first, run) is None
    assert duplicate(again, run) == "duplicate of another example"
    assert duplicate(other, run) is None and len(run.seen) == 2
    # the same example with its keys in another order is the same example
    turn = {"role": "assistant", "content": "billing"}
    reordered = _candidate({"label": "billing"})
    reordered.openai = {"messages": [{"content": "billing", "role": "assistant"}]}
    assert first.openai == {"messages": [turn]}
    assert duplicate(reordered, run) == "duplicate of another example"


def test_the_first_reason_stops_a_record_and_a_good_one_is_filled_in():
    run = _checking()
    # discarded and unresolved both: the earlier check's reason
    assert left_out(_candidate(None, record_id="gone"), run) == "discarded by an annotator"
    good = _candidate({"label": "billing"})
    assert left_out(good, run) is None
    assert good.answer == "billing" and good.tokens == 4 + 4 + 1 + 4 + 2
    assert good.openai["messages"][-1] == {"role": "assistant", "content": "billing"}
    assert left_out(_candidate({"label": "billing"}), run) == "duplicate of another example"
    assert [c.__name__ for c in CHECKS] == [
        "discarded",
        "fixed_without_training",
        "unresolved",
        "suspected",
        "confirmed_control",
        "unknown_task",
        "invalid_answer",
        "no_pair",
        "invalid_example",
        "too_long",
        "template_problem",
        "duplicate",
    ]
