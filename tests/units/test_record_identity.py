"""A record's identity, hashed here by hand (hashlib, xxhash) from the rule in
records.finalize's docstring: one call is one record, whichever way a format names it."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest
import xxhash

from curate.core.records import RECORD_SCHEMA, finalize, input_hash, input_text


def _id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _frame(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    messages = columns.pop(
        "messages",
        [
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"q{i}"}]
            for i in range(n)
        ],
    )
    return pl.DataFrame(
        {**columns, "messages": messages}, schema_overrides={"messages": RECORD_SCHEMA["messages"]}
    )


def test_a_call_id_names_the_record_first():
    frame = _frame(
        source_id=["req-1", "req-1", None],
        _call_id=["resp-a", "resp-b", "resp-c"],
        _raw=["x", "y", "z"],
    )
    for native_id in ("call", "request"):
        ids = finalize(frame, source_format="openai_batch", task=None, native_id=native_id)[
            "record_id"
        ]
        assert ids.to_list() == [
            _id("openai_batch", "call:resp-a"),
            _id("openai_batch", "call:resp-b"),
            _id("openai_batch", "call:resp-c"),
        ]


def test_a_native_id_that_names_the_call():
    frame = _frame(source_id=["chatcmpl-1", None], _raw=["a", "b"])
    ids = finalize(frame, source_format="openai_chat", task=None)["record_id"].to_list()
    assert ids == [_id("openai_chat", "id:chatcmpl-1"), _id("openai_chat", "raw:b")]


def test_a_native_id_that_names_the_request_is_joined_by_the_row():
    # two models answering request 7: two records, though they share the id
    frame = _frame(
        source_id=["7", "7", None], _raw=['{"id": 7, "m": "a"}', '{"id": 7, "m": "b"}', "c"]
    )
    ids = finalize(frame, source_format="table", task=None, native_id="request")["record_id"]
    assert ids.to_list() == [
        _id("table", "req:7", '{"id": 7, "m": "a"}'),
        _id("table", "req:7", '{"id": 7, "m": "b"}'),
        _id("table", "raw:c"),
    ]
    assert ids.n_unique() == 3


def test_the_format_is_part_of_the_identity():
    frame = _frame(source_id=["x1"])
    a = finalize(frame, source_format="langfuse", task=None)["record_id"].item()
    b = finalize(frame, source_format="langsmith", task=None)["record_id"].item()
    assert a != b and a == _id("langfuse", "id:x1")


def test_an_unknown_kind_of_native_id_is_refused():
    with pytest.raises(ValueError, match="native_id must be one of"):
        finalize(_frame(source_id=["x"]), source_format="f", task=None, native_id="span")


def test_the_prompt_version_is_the_system_prompt_hashed_unless_given():
    frame = _frame(
        source_id=["a", "b", "c"],
        prompt_version=["v9", None, None],
        messages=[
            [{"role": "system", "content": "Be brief."}],
            [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
            [{"role": "user", "content": "Be brief."}],  # no system prompt
        ],
    )
    out = finalize(frame, source_format="f", task="t")
    expected = "sys-" + str(xxhash.xxh3_64_intdigest(b"Be brief.") // (1 << 24))
    assert out["prompt_version"].to_list() == ["v9", expected, None]
    assert out["task"].to_list() == ["t"] * 3 and out["source_format"].to_list() == ["f"] * 3


def test_the_input_hash_folds_case_and_spacing_and_leaves_the_system_prompt_out():
    messages = [
        [{"role": "system", "content": "S1"}, {"role": "user", "content": "Hello   World"}],
        [{"role": "system", "content": "S2"}, {"role": "user", "content": " hello world "}],
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": None},
            {"role": "user", "content": "B"},
        ],
        [{"role": "system", "content": "only a system prompt"}],
    ]
    frame = pl.DataFrame({"messages": messages}, schema={"messages": RECORD_SCHEMA["messages"]})
    text = frame.select(input_text().alias("t"))["t"].to_list()
    assert text == ["hello world", "hello world", "a b", ""]  # messages joined, spacing folded
    hashes = frame.select(input_text().alias("t")).select(input_hash("t"))["input_hash"].to_list()
    assert hashes[0] == hashes[1] == xxhash.xxh3_64_intdigest(b"hello world")
    assert hashes[2] == xxhash.xxh3_64_intdigest(b"a b")
    assert hashes[3] is None  # no input: nothing to compare answers by


def test_an_input_of_one_character_is_an_input_and_no_messages_is_none():
    frame = pl.DataFrame(
        {"messages": [[{"role": "user", "content": "a"}]]},
        schema={"messages": RECORD_SCHEMA["messages"]},
    )
    got = frame.select(input_text().alias("t")).select(input_hash("t"))["input_hash"].item()
    assert got == xxhash.xxh3_64_intdigest(b"a")
    empty = pl.DataFrame(
        {"source_id": ["x"], "messages": [None]},
        schema_overrides={"messages": RECORD_SCHEMA["messages"]},
    )
    out = finalize(empty, source_format="f", task=None)
    assert out["messages"].to_list() == [[]] and out["input_hash"].to_list() == [None]


def test_a_frame_with_few_columns_gets_the_others_typed_and_empty():
    out = finalize(pl.DataFrame({"source_id": ["x"], "_raw": ["r"]}), source_format="f", task=None)
    assert out.schema == RECORD_SCHEMA
    assert out["messages"].to_list() == [[]] and out["prompt_version"].to_list() == [None]
    assert out["record_id"].item() == _id("f", "id:x")


WHITE = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u2003", "\u2028", "\u3000"]


@pytest.mark.parametrize("seed", range(5))
def test_spacing_is_folded_as_any_run_of_white_space_to_one_space(seed):
    """input_key's replacement of only what changes equals the plain `\\s+` -> " " (the
    stored input_hash depends on it), on text dense with every kind of white space."""
    import random

    from curate.core.text import input_key

    rng = random.Random(seed)
    alphabet = [*WHITE, "a", "B", "é", "\x1c", "-"]
    texts = ["".join(rng.choices(alphabet, k=rng.randrange(0, 30))) for _ in range(2000)]
    texts += ["a b", " a  b ", "a\tb", "a \n b", "x\u3000\u3000y", ""]
    frame = pl.DataFrame({"t": texts})
    got = frame.select(input_key(pl.col("t")))["t"].to_list()
    plain = pl.col("t").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    assert got == frame.select(plain)["t"].to_list()
    assert got[-6:] == ["a b", "a b", "a b", "a b", "x y", ""]
