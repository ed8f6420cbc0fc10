"""The text keys: each normalizer does what its name says, and no more."""

from __future__ import annotations

import polars as pl

from curate.core.text import input_key, label_key, label_key_of, match_key, name_key


def _apply(key, texts, **kw):
    return pl.select(key(pl.Series(texts), **kw)).to_series().to_list()


def test_label_key_folds_case_and_punctuation_only_when_asked():
    assert _apply(label_key, ["Non-Match!", " non_match ", "MATCH"]) == ["non match"] * 2 + [
        "match"
    ]
    assert _apply(label_key, ["Match"], case_sensitive=True) == ["Match"]
    assert label_key_of("Non-Match!") == "non match"


def test_input_key_keeps_punctuation():
    """Two inputs that differ in punctuation are different inputs (the hash groups equal ones)."""
    assert _apply(input_key, ["Hello,\n  World ", "hello world"]) == ["hello, world", "hello world"]


def test_match_key_unifies_compatibility_forms():
    assert _apply(match_key, ["ＡＢＣ—12", "abc 12"]) == ["abc 12", "abc 12"]


def test_name_key_folds_accents():
    assert _apply(name_key, ["Zoë  O'Brien", "ZOE O BRIEN"]) == ["zoe o brien"] * 2
    assert _apply(match_key, ["Zoë"]) == ["zoë"], "match_key keeps accents"
