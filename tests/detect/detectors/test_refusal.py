import pytest

from curate.core.errors import ConfigError
from tests.detect.detectors.helpers import detect, evidence, put


def test_refusal_field_filter_and_phrasing(workspace):
    ids = put(
        workspace,
        [
            {"output": "Sure, they match."},
            {"output": None, "refusal": "I'm sorry, I can't help with that."},
            {"output": None, "finish_reason": "content_filter"},
            {"output": "I can\u2019t assist with comparing private records."},
        ],
    )
    found = detect(workspace, "refusal")
    assert set(found["record_id"]) == {ids[1], ids[2], ids[3]}
    assert evidence(found, ids[1]).startswith("refusal: 'I'm sorry")
    assert evidence(found, ids[2]) == "finish_reason=content_filter"
    assert evidence(found, ids[3]).startswith("refusal phrasing in output")


def test_patterns_from_config_and_bad_keys(workspace):
    ids = put(workspace, [{"output": "Nope, not doing that."}, {"output": "I can't help"}])
    found = detect(workspace, "refusal", settings={"patterns": ["not doing that"]})
    assert found["record_id"].to_list() == [ids[0]]
    with pytest.raises(
        ConfigError,
        match=r"\[detectors.refusal\] has no key 'pattern'; its keys: filter_reasons, patterns",
    ):
        detect(workspace, "refusal", settings={"pattern": ["x"]})
    with pytest.raises(ConfigError, match="expected a list"):
        detect(workspace, "refusal", settings={"patterns": "x"})
