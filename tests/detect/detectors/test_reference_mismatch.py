from tests.detect.detectors.helpers import LABELS, detect, evidence, put


def test_labels_compared_through_synonyms(workspace):
    ids = put(
        workspace,
        [
            {"output": '{"decision": "match"}', "reference": "match"},
            {"output": '{"decision": "yes"}', "reference": "MATCH"},
            {"output": '{"decision": "non_match"}', "reference": "match"},
            {"output": '{"decision": "maybe"}', "reference": "match"},
            {"output": "not json", "reference": "match"},
            {"output": '{"decision": "match"}'},
        ],
        task="em",
    )
    found = detect(workspace, "reference_mismatch", {"em": LABELS})
    assert set(found["record_id"]) == {ids[2], ids[3]}
    assert evidence(found, ids[2]) == "model said 'non_match', reference is 'match'"


def test_outputs_compared_when_there_are_no_labels(workspace):
    ids = put(
        workspace,
        [
            {"output": "Paris", "reference": "paris "},
            {"output": "Lyon", "reference": "Paris"},
            {"output": None, "error": "x", "reference": "Paris"},
        ],
    )
    found = detect(workspace, "reference_mismatch")
    assert found["record_id"].to_list() == [ids[1]]
