"""Triage without a workspace: every rule and condition on both sides, the record's class, the
token-limit counts and their sentence. Expected classes are written out by hand, from the rules
table the README shows."""

from __future__ import annotations

import polars as pl

from curate.core.triage import (
    CLASSES,
    NEAR,
    RULES,
    limit_hits,
    limit_note,
    record_triage,
    rules_table,
    triage_expr,
)

COLUMNS = {
    "detector": pl.String,
    "evidence": pl.String,
    "output": pl.String,
    "reference": pl.String,
    "label": pl.String,
    "class": pl.String,
    "error": pl.String,
    "finish_reason": pl.String,
}


def _classes(*rows: dict, fallback: dict | None = None) -> list[str]:
    frame = pl.DataFrame([{k: row.get(k) for k in COLUMNS} for row in rows], schema=COLUMNS)
    return frame.select(triage_expr(fallback or {}))["triage"].to_list()


def _oov(nearest: str, score: int, reference_class: str | None) -> dict:
    return {
        "detector": "label_out_of_vocab",
        "evidence": f"'refundz' is not a label; nearest: '{nearest}' (score {score})",
        "class": reference_class,
    }


def test_api_errors_are_config_only_when_the_context_overflowed():
    got = _classes(
        {"detector": "api_error", "error": "This model's maximum context length is 8192 tokens"},
        {"detector": "api_error", "error": "Your prompt is too long"},
        {"detector": "api_error", "error": "context_length_exceeded"},
        {"detector": "api_error", "error": "Rate limit reached"},
        {"detector": "api_error", "error": None},
    )
    assert got == ["config", "config", "config", "infrastructure", "infrastructure"]


def test_a_cut_is_config_at_the_limit_and_format_before_it():
    got = _classes(
        *({"detector": "truncated", "finish_reason": r} for r in ("length", "max_tokens")),
        {"detector": "truncated", "finish_reason": "max_output_tokens"},
        {"detector": "truncated", "finish_reason": "stop"},
        {"detector": "truncated", "finish_reason": None},
    )
    assert got == ["config", "config", "config", "format", "format"]


def test_empty_answers_by_why_they_are_empty():
    got = _classes(
        {"detector": "empty_output", "finish_reason": "content_filter"},
        {"detector": "empty_output", "finish_reason": "length"},
        {"detector": "empty_output", "finish_reason": "stop"},
        {"detector": "empty_output", "finish_reason": None},
    )
    assert got == ["safety", "config", "format", "format"]


def test_detectors_with_one_rule():
    names = ["refusal", "invalid_json", "schema_violation", "label_unparseable"]
    names += ["tool_call_invalid", "inconsistent", "negative_feedback", "low_confidence"]
    got = _classes(*({"detector": d, "finish_reason": "length"} for d in names))
    assert got == ["safety"] + ["format"] * 4 + ["decision"] * 3


def test_out_of_vocabulary_labels_spelling_the_reference_are_format():
    got = _classes(
        _oov("billing", NEAR, "billing"),  # at the threshold: a spelling
        _oov("billing", NEAR - 1, "billing"),  # just under: another label
        _oov("billing", 95, "technical"),  # near a label that is not the reference
        _oov("billing", 95, None),  # no reference: the form is what is wrong
    )
    assert got == ["format", "decision", "decision", "format"]
    # evidence without a nearest label, and a reference: not a spelling of it
    plain = {"detector": "label_out_of_vocab", "evidence": "'zzz' is not a label"}
    assert _classes(plain | {"class": "billing"}, plain) == ["decision", "format"]


def test_the_nearest_label_is_read_from_the_end_of_the_evidence():
    # a quoted output that fakes the phrase earlier does not count; only the end does
    fake = "'nearest: 'billing' (score 99)' is not a label; nearest: 'other' (score 40)"
    got = _classes({"detector": "label_out_of_vocab", "evidence": fake, "class": "billing"})
    assert got == ["decision"]


def test_a_reference_in_other_words_is_format_only_without_a_label():
    mismatch = {"detector": "reference_mismatch", "reference": "account"}
    got = _classes(
        mismatch | {"output": "Topic: Account."},  # the whole word, no label read
        mismatch | {"output": "Topic: Account.", "label": "billing"},  # a label was read
        mismatch | {"output": "Topic: Accounts."},  # not the word itself
        mismatch | {"output": "Billing"},  # another answer
        mismatch | {"output": None},
    )
    assert got == ["format", "decision", "decision", "decision", "decision"]


def test_a_detector_no_rule_names_takes_its_own_class_or_decision():
    got = _classes(
        {"detector": "my_plugin"},
        {"detector": "other_plugin"},
        fallback={"my_plugin": "safety"},
    )
    assert got == ["safety", "decision"]
    # a rule wins over a fallback that names a built-in detector
    assert _classes({"detector": "refusal"}, fallback={"refusal": "format"}) == ["safety"]


def test_the_first_matching_rule_wins():
    firsts: dict[str, list[str]] = {}
    for rule in RULES:
        firsts.setdefault(rule.detector, []).append(rule.when or "always")
    # every detector's unconditional rule is its last: no rule after it is ever reached
    assert all(whens[-1] == "always" and "always" not in whens[:-1] for whens in firsts.values())


def test_a_records_class_is_its_most_basic_findings():
    findings = pl.DataFrame(
        {
            "record_id": ["r1", "r1", "r1", "r2", "r2", "r3", "r4", "r4"],
            "triage": [
                "decision",
                "config",
                "format",
                "format",
                "safety",
                "decision",
                "plugin-class",
                "infrastructure",
            ],
        }
    )
    got = dict(record_triage(findings).iter_rows())
    assert got == {"r1": "config", "r2": "safety", "r3": "decision", "r4": "infrastructure"}
    assert CLASSES == ("config", "infrastructure", "safety", "format", "decision")
    # a class outside CLASSES ranks after all of them, and is kept when it is the only one
    alone = pl.DataFrame({"record_id": ["r5", "r5"], "triage": ["zzz", "decision"]})
    assert dict(record_triage(alone).iter_rows()) == {"r5": "decision"}
    # in the order the records first appear: the report shows the first few as examples
    ordered = pl.DataFrame({"record_id": [f"r{i}" for i in range(50, 0, -1)], "triage": "format"})
    assert record_triage(ordered)["record_id"].to_list() == ordered["record_id"].to_list()
    only = pl.DataFrame({"record_id": ["r6"], "triage": ["zzz"]})
    assert dict(record_triage(only).iter_rows()) == {"r6": "zzz"}


def test_limit_hits_count_each_call_once():
    at_limit = pl.DataFrame({"record_id": ["a", "b", "c", "d", "d", "f"]})
    findings = pl.DataFrame(
        {
            "record_id": ["a", "a", "a", "b", "e", "c", "f"],
            "detector": ["truncated", "truncated", "invalid_json", "refusal", *["truncated"] * 3],
        }
    )
    assert limit_hits(at_limit, findings) == {
        "calls": 5,
        "cut": 3,  # a (twice found, once counted), c, f
        "failing_otherwise": 1,  # b
        "complete": 1,  # d
    }


def test_the_limit_sentence():
    assert limit_note({"calls": 0, "cut": 0, "failing_otherwise": 0, "complete": 0}) is None
    hits = {"calls": 1200, "cut": 3, "failing_otherwise": 0, "complete": 1197}
    assert limit_note(hits) == (
        "1,200 calls stopped at the token limit (max_tokens): 1,197 after a complete answer "
        "(no failure), 3 cut before their answer could be read (truncated)"
    )
    hits = {"calls": 5, "cut": 1, "failing_otherwise": 2, "complete": 2}
    assert limit_note(hits).endswith(
        "1 cut before their answer could be read (truncated), 2 with an answer the limit did "
        "not cut that fails for another reason"
    )


def test_the_rules_table_is_the_rules():
    rows = rules_table()
    assert len(rows) == len(RULES)
    for row, rule in zip(rows, RULES, strict=True):
        assert row == {
            "detector": rule.detector,
            "when": rule.when if rule.when is not None else "always",
            "triage": rule.triage,
            "why": rule.why,
        }
    assert rows[0] == {
        "detector": "api_error",
        "when": "context_overflow",
        "triage": "config",
        "why": "the request did not fit the context window",
    }
    assert rows[1]["when"] == "always"


class _Records:
    """A workspace stand-in: records with these finish reasons."""

    def __init__(self, reasons: list[str | None]):
        self.frame = pl.DataFrame(
            {"record_id": [f"r{i}" for i in range(len(reasons))], "finish_reason": reasons},
            schema={"record_id": pl.String, "finish_reason": pl.String},
        )

    def scan_records(self) -> pl.LazyFrame:
        return self.frame.lazy()


def test_the_calls_at_the_token_limit_are_those_with_a_limit_reason():
    from curate.core.config import Config
    from curate.core.triage import at_token_limit

    workspace = _Records(["length", "stop", "max_tokens", "max_output_tokens", None, "LENGTH"])
    hit = at_token_limit(workspace, Config())
    assert hit.columns == ["record_id"] and hit["record_id"].to_list() == ["r0", "r2", "r3"]
    # [detectors.truncated] finish_reasons replaces the default list, not adds to it
    own = Config(data={"detectors": {"truncated": {"finish_reasons": ["LENGTH"]}}})
    assert at_token_limit(workspace, own)["record_id"].to_list() == ["r5"]
    # a truncated section without finish_reasons, or another detector's, keeps the default
    for data in ({"detectors": {"truncated": {}}}, {"detectors": {"refusal": {"x": 1}}}):
        got = at_token_limit(workspace, Config(data=data))["record_id"].to_list()
        assert got == ["r0", "r2", "r3"]
