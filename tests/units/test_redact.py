"""Redaction without a queue: every action, the numbering of pseudonyms per record and per
entity type, the kept fields, the policy read from its task, and the mapping file's mode.
Presidio's pattern recognizers only (no spaCy model is needed)."""

from __future__ import annotations

import json
import stat

import pytest

from curate.core.errors import ConfigError
from curate.core.redact import (
    DEFAULT_ENTITIES,
    PATTERN_ENTITIES,
    PLACES,
    Found,
    Policy,
    engine,
    kept_values,
    redact_records,
    save_mapping,
)
from curate.core.tasks import Task

engine()  # loaded once at import: mutmut's fork server imports this module before forking

PATTERNS = ("EMAIL_ADDRESS", "PHONE_NUMBER", "IP_ADDRESS")


def _task(redact, pair=None) -> Task:
    return Task(name="people", kind="entity_match", redact=redact, pair=pair or {})


def _one(text: str, policy: Policy, kept: set[str] | None = None):
    out, found = redact_records([{"id": ["r1"], "f": [text]}], policy, [kept or set()])
    return out[0]["f"][0], found


def test_pseudonyms_are_numbered_per_type_within_a_record():
    text = "mail ann@example.com or bob@example.com, again ann@example.com, from 10.0.0.1"
    policy = Policy(entities=PATTERNS)
    out, found = _one(text, policy)
    assert out == (
        "mail <EMAIL_ADDRESS_1> or <EMAIL_ADDRESS_2>, again <EMAIL_ADDRESS_1>, from <IP_ADDRESS_1>"
    )
    assert found.mappings == {
        "r1": {
            "<EMAIL_ADDRESS_1>": "ann@example.com",
            "<EMAIL_ADDRESS_2>": "bob@example.com",
            "<IP_ADDRESS_1>": "10.0.0.1",
        }
    }
    assert found.counts == {"EMAIL_ADDRESS": 3, "IP_ADDRESS": 1}


def test_the_numbering_starts_again_in_each_record_and_spans_its_fields():
    records = [
        {"id": ["r1"], "a": ["to x@example.com"], "b": ["cc y@example.com", "x@example.com"]},
        {"id": ["r2"], "a": ["y@example.com"], "b": [""]},
    ]
    out, found = redact_records(records, Policy(entities=PATTERNS))
    assert out[0] == {
        "id": ["r1"],
        "a": ["to <EMAIL_ADDRESS_1>"],
        "b": ["cc <EMAIL_ADDRESS_2>", "<EMAIL_ADDRESS_1>"],
    }
    assert out[1] == {"id": ["r2"], "a": ["<EMAIL_ADDRESS_1>"], "b": [""]}
    assert found.mappings["r2"] == {"<EMAIL_ADDRESS_1>": "y@example.com"}
    assert records[0]["a"] == ["to x@example.com"]  # the input is not changed in place


def test_mask_and_keep_and_an_action_per_type():
    text = "ann@example.com from 10.0.0.1"
    masked, found = _one(text, Policy(entities=PATTERNS, action="mask"))
    assert masked == "<EMAIL_ADDRESS> from <IP_ADDRESS>" and found.mappings == {}
    assert found.counts == {"EMAIL_ADDRESS": 1, "IP_ADDRESS": 1}
    mixed = Policy(entities=PATTERNS, action="mask", actions={"IP_ADDRESS": "keep"})
    kept, found = _one(text, mixed)
    assert kept == "<EMAIL_ADDRESS> from 10.0.0.1"
    assert found.counts == {"EMAIL_ADDRESS": 1}  # a kept value is not counted as replaced
    assert mixed.action_for("IP_ADDRESS") == "keep" and mixed.action_for("EMAIL_ADDRESS") == "mask"


def test_only_the_listed_types_are_replaced():
    text = "ann@example.com from 10.0.0.1"
    assert _one(text, Policy(entities=("IP_ADDRESS",)))[0] == "ann@example.com from <IP_ADDRESS_1>"


def test_kept_values_stay_wherever_they_appear():
    out, found = _one(
        "ann@example.com and bob@example.com", Policy(entities=PATTERNS), {"ann@example.com"}
    )
    assert out == "ann@example.com and <EMAIL_ADDRESS_1>"
    assert found.mappings == {"r1": {"<EMAIL_ADDRESS_1>": "bob@example.com"}}


def test_no_entity_to_look_for_changes_nothing():
    records = [{"id": ["r1"], "f": ["ann@example.com"]}]
    out, found = redact_records(records, Policy(entities=("PERSON",)))  # no model: no names
    assert out == records and out is not records and out[0]["f"] is not records[0]["f"]
    assert found.counts == {} and found.mappings == {}


def test_kept_values_are_read_from_both_sides_of_the_pair():
    policy = Policy(entities=PATTERNS, keep_fields=("email", "id"))
    task = _task({"keep_fields": ["email", "id"]})
    metadata = json.dumps(
        {
            "left": {"email": " ann@example.com ", "id": 7, "name": "Ann"},
            "right": {"email": "a.b@example.com", "id": None},
        }
    )
    assert kept_values(metadata, task, policy) == {"ann@example.com", "7", "a.b@example.com"}
    nested = _task({}, pair={"left": "metadata.pair.a", "right": "metadata.pair.b"})
    deep = json.dumps({"pair": {"a": {"email": "x@example.com"}, "b": "not a record"}})
    assert kept_values(deep, nested, policy) == {"x@example.com"}
    assert kept_values(None, task, policy) == set()
    assert kept_values("{not json", task, policy) == set()
    assert kept_values(metadata, task, Policy()) == set()  # no keep_fields


def test_the_policy_of_a_task():
    default = Policy.of(_task({}))
    assert default == Policy(entities=PATTERN_ENTITIES)
    assert default.action == "pseudonym" and default.where == PLACES and default.listed_in == ""
    assert "PERSON" in DEFAULT_ENTITIES and "PERSON" not in PATTERN_ENTITIES
    assert Policy.of(_task(False)) is None
    spec = {
        "entities": ["EMAIL_ADDRESS"],
        "action": "mask",
        "actions": {"EMAIL_ADDRESS": "keep"},
        "where": ["export"],
        "keep_fields": ["email"],
    }
    assert Policy.of(_task(spec)) == Policy(
        entities=("EMAIL_ADDRESS",),
        action="mask",
        actions={"EMAIL_ADDRESS": "keep"},
        where=("export",),
        keep_fields=("email",),
        listed_in="[tasks.people.redact] entities",
    )
    # a spec without entities takes the whole default list, names included
    assert Policy.of(_task({"action": "mask"})).entities == DEFAULT_ENTITIES
    assert Policy.of(_task({"action": "mask"})).listed_in == ""


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"action": "hash"},
            "[tasks.people.redact] action = 'hash': use one of mask, pseudonym, keep",
        ),
        (
            {"actions": {"EMAIL_ADDRESS": "drop"}},
            "[tasks.people.redact] EMAIL_ADDRESS = 'drop': use one of mask, pseudonym, keep",
        ),
    ],
)
def test_an_unknown_action_is_named(spec, message):
    with pytest.raises(ConfigError) as raised:
        Policy.of(_task(spec))
    assert str(raised.value) == message


def test_the_mapping_file_is_private_and_appended(tmp_path):
    class Ws:
        root = tmp_path

    assert save_mapping(Ws, Found()) is None
    assert not (tmp_path / "redaction").exists()
    first = Found(mappings={"r1": {"<EMAIL_ADDRESS_1>": "ann@example.com"}})
    path = save_mapping(Ws, first)
    assert path == tmp_path / "redaction" / "mapping.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)  # widened by someone: the next write narrows it again
    save_mapping(Ws, Found(mappings={"r2": {"<IP_ADDRESS_1>": "10.0.0.1"}}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"record_id": "r1", "values": {"<EMAIL_ADDRESS_1>": "ann@example.com"}},
        {"record_id": "r2", "values": {"<IP_ADDRESS_1>": "10.0.0.1"}},
    ]


def test_what_cannot_be_found_is_said():
    from curate.core.redact import detectable_entities

    batch, _ = engine()
    listed = "[tasks.people.redact] entities"
    with pytest.raises(ConfigError) as raised:
        detectable_entities(
            Policy(entities=("EMAIL_ADRESS", "IP_ADDRESS"), listed_in=listed), batch, False
        )
    message = str(raised.value)
    assert message.startswith(f"{listed}: 'EMAIL_ADRESS' is no entity type Presidio finds; ")
    assert "EMAIL_ADDRESS" in message.split("known: ")[0]  # the hint: did you mean
    assert ", IP_ADDRESS, " in message.split("known: ")[1]
    with pytest.raises(ConfigError, match=r"^the redaction policy: 'NOPE' is no entity type"):
        detectable_entities(Policy(entities=("NOPE",)), batch, False)
    with pytest.raises(ConfigError) as raised:
        detectable_entities(
            Policy(entities=("PERSON", "LOCATION", "IP_ADDRESS"), listed_in=listed), batch, False
        )
    assert str(raised.value) == (
        f"{listed} lists PERSON, LOCATION, which only a spaCy English model finds "
        "(en_core_web_lg / en_core_web_md / en_core_web_sm), and none is installed: install one "
        "(python -m spacy download en_core_web_sm, where the network allows), or take PERSON, "
        "LOCATION out of entities"
    )
    # the default list leaves names out without a model, and keeps them with one
    assert detectable_entities(Policy(), batch, False) == list(PATTERN_ENTITIES)
    assert detectable_entities(Policy(), batch, True) == list(DEFAULT_ENTITIES)


def test_a_hit_at_the_minimum_score_is_replaced():
    # Presidio scores a bare phone number 0.4: MIN_SCORE itself is enough
    out, found = _one("call 212-555-1234 now", Policy(entities=("PHONE_NUMBER",), action="mask"))
    assert out == "call <PHONE_NUMBER> now" and found.counts == {"PHONE_NUMBER": 1}


def test_a_clean_text_before_one_with_data_and_an_id_that_looks_like_data():
    records = [{"id": ["10.0.0.1"], "f": ["nothing here", "mail ann@example.com"]}]
    out, _ = redact_records(records, Policy(entities=PATTERNS, action="mask"))
    assert out == [{"id": ["10.0.0.1"], "f": ["nothing here", "mail <EMAIL_ADDRESS>"]}]


def test_two_unknown_types_are_both_named():
    from curate.core.redact import detectable_entities

    batch, _ = engine()
    with pytest.raises(ConfigError, match=r"^the redaction policy: 'NOPE', 'ZILCH' is no entity"):
        detectable_entities(Policy(entities=("NOPE", "ZILCH")), batch, False)


def test_a_pair_path_through_a_value_that_is_no_record():
    policy = Policy(entities=PATTERNS, keep_fields=("email",))
    task = _task({}, pair={"left": "metadata.pair.a.inner", "right": "metadata.pair.b.inner"})
    meta = json.dumps({"pair": {"a": "text", "b": {"inner": {"email": "b@example.com"}}}})
    assert kept_values(meta, task, policy) == {"b@example.com"}


def test_phone_regions_choose_the_national_formats_looked_for():
    """A national number is found only in its own region's list; one with its +country code
    under any list; the default list is Presidio's (GB's national format found)."""
    uk, intl = "ring 020 7946 0958 today", "ring +44 20 7946 0958 today"
    policy = Policy(entities=("PHONE_NUMBER",), phone_regions=("US",))
    assert _one(uk, policy)[0] == uk
    assert _one(intl, policy)[0] == "ring <PHONE_NUMBER_1> today"
    gb = Policy(entities=("PHONE_NUMBER",), phone_regions=("GB",))
    assert _one(uk, gb)[0] == "ring <PHONE_NUMBER_1> today"
    assert _one(uk, Policy(entities=("PHONE_NUMBER",)))[0] == "ring <PHONE_NUMBER_1> today"
    assert Policy.of(_task({"phone_regions": ["US", "GB"]})).phone_regions == ("US", "GB")
    assert Policy.of(_task({})).phone_regions is None


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        (["XX"], "'XX' is no region phonenumbers knows"),
        (["US", "UK"], "'UK' is no region phonenumbers knows"),
        ([], "empty"),
    ],
)
def test_an_unknown_phone_region_is_named(regions, message):
    with pytest.raises(ConfigError) as raised:
        Policy.of(_task({"phone_regions": regions}))
    assert str(raised.value) == (
        f"[tasks.people.redact] phone_regions: {message}; give ISO 3166 country codes, "
        'e.g. ["US", "GB", "DE"]'
    )


CORPUS = [
    "my SSN is 078-05-1120, social security number",
    "ssn 219-09-9999 and US SSN 123-45-6789",
    "call my cell phone 415 555 1234 or +44 20 7946 0958",
    "phone: (415) 555-1234, telephone 020 7946 0958",
    "credit card 4111 1111 1111 1111 visa, and card 4111111111111112",
    "iban DE89 3704 0044 0532 0130 00 for the bank transaction",
    "ip 192.168.0.1 and 2001:db8::1 in the log",
    "email me at a.b@c.de or email x@y, oa14@lee.coom",
    "Record A: name Mary Allen, born 1971-03-14, email mary.allen7@example.org. Call +1 415 555 "
    "2811.\nRecord B: name Allen Mary, email mallen@mail.com. Paid with 4111 1111 1111 1111.",
    '{"decision": "match", "email": "mary.allen7@example.org"}',
    "nothing personal here at all",
    "",
]


@pytest.mark.parametrize("regions", [None, ("US",)])
def test_patterns_only_analysis_finds_what_presidios_pipeline_finds(regions):
    """curate's analysis without a spaCy pipeline (no model: patterns only) gives exactly the
    findings of Presidio's batch analyzer run with the blank pipeline's tokens, context words
    near the numbers included."""
    from curate.core.redact import analyze

    batch, has_ner = engine(regions)
    assert not has_ner  # the test environment has no spaCy model: the fast path is taken
    entities = list(PATTERN_ENTITIES)

    def key(results):
        return sorted((r.entity_type, r.start, r.end, round(r.score, 9)) for r in results)

    reference = batch.analyze_iterator(CORPUS, language="en", entities=entities, batch_size=4)
    expected = [key(r) for r in reference]
    assert [key(r) for r in analyze(CORPUS, entities, regions)] == expected
    assert sum(map(len, expected)) >= 15  # the corpus holds what it should
