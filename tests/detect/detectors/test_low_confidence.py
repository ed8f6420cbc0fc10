from tests.detect.detectors.helpers import detect, evidence, put


def test_logprob_confidence_and_output_field(workspace):
    ids = put(
        workspace,
        [
            {"output": "a", "confidence": 0.9},
            {"output": "b", "confidence": 0.2},
            {"output": '{"decision": "match", "confidence": 0.3}'},
            {"output": "c"},
        ],
    )
    found = detect(workspace, "low_confidence")
    assert found["record_id"].to_list() == [ids[1]] or set(found["record_id"]) == {ids[1]}
    assert evidence(found, ids[1]) == "confidence 0.2 < 0.5"
    found = detect(workspace, "low_confidence", settings={"output_field": "confidence"})
    assert set(found["record_id"]) == {ids[1], ids[2]}
    assert evidence(found, ids[2]) == "confidence 0.3 < 0.5"
