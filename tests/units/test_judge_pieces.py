"""The judge without an endpoint: its prompt, how its reply is read, the checks on its settings
and on the numbers an endpoint returns, and its agreement with people (kappa, accuracy by
score, the threshold it can be trusted above)."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from curate.core.errors import ConfigError
from curate.core.suggestions import (
    MIN_FOR_THRESHOLD,
    THRESHOLDS,
    TRUSTWORTHY,
    judge_agreement,
)
from curate.core.tasks import Task
from curate.queue.judge import Judge, JudgeError, _read_answer, prompt_for
from tests.units.formulas import cohen_kappa_by_formula

LABELS = Task(
    name="em", kind="classification", labels=["match", "non_match"], synonyms={"non_match": ["no"]}
)
FREE = Task(name="ex", kind="extraction")
RECORD = {"messages": [{"role": "user", "content": "Ann Lee / Anne Lee?"}], "output": "match"}


def test_the_prompt_is_filled_in():
    judge = {"prompts": {"em": "T={task} I={input} O={output} L={labels} A={ask} {{x}}"}}
    text = prompt_for(LABELS, judge, RECORD)
    assert text.startswith("T=em I=")
    assert "Ann Lee / Anne Lee?" in text
    assert text.endswith(
        " O=match L=match, non_match A=Reply with the right answer only: one of match, "
        "non_match. {x}"
    )
    free = prompt_for(FREE, {"prompts": {"ex": "{ask}|{output}"}}, RECORD | {"output": None})
    assert (
        free == "Reply with the output the model should have given, and nothing else.|(no output)"
    )
    # the default prompt names the task; another task's prompt is not used
    default = prompt_for(LABELS, {"prompts": {"ex": "{task}!"}}, RECORD)
    assert 'the task "em"' in default


@pytest.mark.parametrize("template", ["{nope}", "{0}", "{output.x}", "{"])
def test_a_prompt_that_cannot_be_filled_in_says_how_to_write_one(template):
    with pytest.raises(ConfigError) as raised:
        prompt_for(LABELS, {"prompts": {"em": template}}, RECORD)
    message = str(raised.value)
    assert message.startswith("[judge.prompts] em: the prompt cannot be filled in (")
    assert message.endswith(
        "Its placeholders are {task}, {input}, {output}, {labels}, {ask}; write a literal brace "
        'twice: {{"label": "..."}} gives {"label": "..."}'
    )


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("match", "match"),
        ("Non-Match.", "non_match"),  # longest first: not "match"
        ("non match because the dates differ", "non_match"),
        ("No", "non_match"),  # a synonym
        ("matches", None),  # a word that starts with a label is not it
        ("\n\n  match\nthe rest", "match"),  # the first line with text
        ("", None),
        ("maybe", None),
    ],
)
def test_the_reply_read_as_a_label(text, label):
    assert _read_answer(LABELS, text) == (label, None)


def test_the_reply_as_an_output():
    assert _read_answer(FREE, '  {"name": "Ann"}\n') == (None, '{"name": "Ann"}')
    assert _read_answer(FREE, "  \n") == (None, None)


@pytest.mark.parametrize(
    ("base_url", "why"),
    [
        ("ftp://host/v1", "give an http(s) URL with a host"),
        ("http:///v1", "give an http(s) URL with a host"),
        ("http://[::1/v1", "not a URL"),
    ],
)
def test_a_base_url_that_is_no_endpoint(base_url, why):
    with pytest.raises(ConfigError) as raised:
        Judge({"model": "m", "base_url": base_url})
    assert str(raised.value).startswith(f"[judge] base_url = {base_url!r}: {why}")


def test_the_settings_of_a_judge(monkeypatch):
    judge = Judge({"model": "m", "base_url": "http://127.0.0.1:8000/v1/"})
    assert judge.url == "http://127.0.0.1:8000/v1/chat/completions"
    assert (judge.timeout, judge.attempts, judge.secret) == (60.0, 6, None)
    judge = Judge({"model": "m", "base_url": "http://h/v1", "timeout_s": 2, "max_retries": 0})
    assert (judge.timeout, judge.attempts) == (2.0, 1)
    monkeypatch.delenv("JUDGE_KEY", raising=False)
    with pytest.raises(ConfigError) as raised:
        Judge({"model": "m", "base_url": "http://h/v1", "api_key_env": "JUDGE_KEY"})
    assert str(raised.value) == "[judge] api_key_env = 'JUDGE_KEY', but JUDGE_KEY is not set"
    monkeypatch.setenv("JUDGE_KEY", "sk-secret-123")
    judge = Judge({"model": "m", "base_url": "http://h/v1", "api_key_env": "JUDGE_KEY"})
    assert judge.client.headers["Authorization"] == "Bearer sk-secret-123"
    assert (
        judge.scrub("echo sk-secret-123 and Bearer abc.def, more")
        == "echo *** and Bearer ***, more"
    )


def test_token_counts_and_logprobs_are_checked():
    judge = Judge({"model": "m", "base_url": "http://h/v1"})
    assert judge._tokens({"prompt_tokens": 12}, "prompt_tokens") == 12
    assert judge._tokens({}, "prompt_tokens") == 0
    assert judge._tokens({"prompt_tokens": 10**9}, "prompt_tokens") == 10**9
    for bad in (-1, 10**9 + 1, True, 1.5, "12"):
        with pytest.raises(JudgeError) as raised:
            judge._tokens({"completion_tokens": bad}, "completion_tokens")
        assert str(raised.value) == (
            f"{judge.url}: usage.completion_tokens = {str(bad)!r} is not a token count"
        )
    choice = {"logprobs": {"content": [{"logprob": math.log(0.8)}]}}
    assert judge._score(choice) == 0.8
    assert judge._score({"logprobs": {"content": [{"logprob": 0}]}}) == 1.0
    assert judge._score({"logprobs": {"content": [{"logprob": -0.000001}]}}) == 1.0  # 4 places
    assert judge._score({}) is None and judge._score({"logprobs": None}) is None
    assert judge._score({"logprobs": {"content": []}}) is None
    for bad in (0.1, True, "x", float("nan")):
        with pytest.raises(JudgeError) as raised:
            judge._score({"logprobs": {"content": [{"logprob": bad}]}})
        assert str(raised.value) == (
            f"{judge.url}: a logprob of {str(bad)!r}: a log-probability is a number <= 0"
        )


def _agreement(pairs, scores=None, classes=None):
    n = len(pairs)
    suggestions = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(n)],
            "task": ["em"] * n,
            "model": ["judge-1"] * n,
            "label": [j for j, _ in pairs],
            "score": scores or [None] * n,
        },
        schema_overrides={"score": pl.Float64},
    )
    resolved = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(n)],
            "question": ["label"] * n,
            "value": [json.dumps(p) for _, p in pairs],
        }
    )
    candidates = pl.DataFrame(
        {"record_id": [f"r{i}" for i in range(n)], "class": classes or ["match"] * n}
    ).drop_nulls("class")  # a record of no class: not among the candidates at all
    return judge_agreement(suggestions, resolved, candidates)["em"]


def test_the_judge_against_people():
    pairs = (
        [("match", "match")] * 6 + [("non_match", "match")] * 2 + [("non_match", "non_match")] * 4
    )
    classes = ["match"] * 8 + ["non_match"] * 4
    got = _agreement(pairs, classes=classes)
    judge, people = [j for j, _ in pairs], [p for _, p in pairs]
    assert got["model"] == "judge-1" and got["records"] == 12
    assert got["accuracy"] == round(10 / 12, 4) == 0.8333
    assert got["kappa"] == pytest.approx(cohen_kappa_by_formula(people, judge), abs=5e-5)
    assert got["by_class"] == {
        "match": {"records": 8, "accuracy": 0.75},
        "non_match": {"records": 4, "accuracy": 1.0},
    }
    assert got["by_score"] == [] and got["threshold"] is None


def test_the_threshold_is_the_lowest_with_enough_right_answers():
    assert (TRUSTWORTHY, MIN_FOR_THRESHOLD) == (0.95, 20)
    assert THRESHOLDS == (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
    # 20 right answers scored 0.9, 2 wrong at 0.65, 1 right at 0.55
    pairs = [("match", "match")] * 20 + [("match", "non_match")] * 2 + [("match", "match")]
    scores = [0.9] * 20 + [0.65] * 2 + [0.55]
    got = _agreement(pairs, scores=scores)
    assert got["by_score"] == [
        {"threshold": 0.5, "records": 23, "accuracy": round(21 / 23, 4)},
        {"threshold": 0.6, "records": 22, "accuracy": round(20 / 22, 4)},
        {"threshold": 0.7, "records": 20, "accuracy": 1.0},
        {"threshold": 0.8, "records": 20, "accuracy": 1.0},
        {"threshold": 0.9, "records": 20, "accuracy": 1.0},  # at the threshold: counted
    ]
    assert got["threshold"] == 0.7
    # 19 answers: too few to trust, however right
    fewer = _agreement(pairs[:19], scores=scores[:19])
    assert fewer["threshold"] is None and fewer["by_score"][-1]["records"] == 19
    # exactly 95% right: trusted
    mixed = [("match", "match")] * 19 + [("match", "non_match")]
    assert _agreement(mixed, scores=[0.8] * 20)["threshold"] == 0.5
    wrong = [("match", "match")] * 18 + [("match", "non_match")] * 2  # 90%
    assert _agreement(wrong, scores=[0.8] * 20)["threshold"] is None


def test_the_longest_term_is_read_first_and_case_is_kept_where_asked():
    nested = Task(name="t", kind="classification", labels=["no", "no way"])
    assert _read_answer(nested, "No way, different people") == ("no way", None)
    assert _read_answer(nested, "no") == ("no", None)
    cased = Task(name="t", kind="classification", labels=["Yes", "yes"], case_sensitive=True)
    assert _read_answer(cased, "Yes") == ("Yes", None)
    assert _read_answer(cased, "YES") == (None, None)


def test_the_default_prompt_without_a_prompts_table():
    text = prompt_for(LABELS, {}, RECORD)
    assert 'the task "em"' in text and "Ann Lee / Anne Lee?" in text


def test_a_placeholder_it_does_not_know_is_named():
    with pytest.raises(ConfigError) as raised:
        prompt_for(LABELS, {"prompts": {"em": "{nope}"}}, RECORD)
    assert "the prompt cannot be filled in (KeyError: 'nope')." in str(raised.value)


def test_a_judge_as_configured():
    import threading

    import httpx

    judge = Judge({"model": "m", "base_url": "https://h/apiX/"})
    assert judge.model == "m" and judge.url == "https://h/apiX/chat/completions"
    assert judge.client.timeout == httpx.Timeout(60.0)
    assert isinstance(judge.lock, type(threading.Lock())) and judge.retries == 0
    with pytest.raises(ConfigError) as raised:
        Judge({"model": "m", "base_url": "ftp://h"})
    assert str(raised.value) == (
        "[judge] base_url = 'ftp://h': give an http(s) URL with a host, e.g. "
        '"http://127.0.0.1:8000/v1"'
    )


def test_numbers_from_the_endpoint_at_their_edges():
    judge = Judge({"model": "m", "base_url": "http://h/v1"})
    assert judge._tokens({"prompt_tokens": 0}, "prompt_tokens") == 0
    long = "9" * 60
    with pytest.raises(JudgeError) as raised:
        judge._tokens({"prompt_tokens": long}, "prompt_tokens")
    assert str(raised.value).endswith(f"usage.prompt_tokens = {long[:40]!r} is not a token count")
    with pytest.raises(JudgeError) as raised:
        judge._score({"logprobs": {"content": [{"logprob": long}]}})
    assert f"a logprob of {long[:40]!r}:" in str(raised.value)
    assert judge._score({"logprobs": {"content": [{"logprob": math.log(0.123456)}]}}) == 0.1235


def test_agreement_keys_classes_and_records_outside_the_candidates():
    pairs = [("match", "match"), ("match", "non_match"), ("non_match", "non_match")]
    got = _agreement(pairs, classes=["match", None, "non_match"])
    assert set(got) == {
        "model",
        "records",
        "accuracy",
        "kappa",
        "kappa_ci",
        "by_class",
        "by_score",
        "threshold",
    }
    assert got["kappa_ci"] is not None and len(got["kappa_ci"]) == 2
    assert got["by_class"]["(none)"] == {"records": 1, "accuracy": 0.0}
    thirds = _agreement(pairs, classes=["match"] * 3)
    assert thirds["by_class"]["match"]["accuracy"] == 0.6667 and thirds["accuracy"] == 0.6667
