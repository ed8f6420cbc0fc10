from tests.detect.detectors.helpers import detect, evidence, put


def test_token_limit_and_cut_structures(workspace):
    ids = put(
        workspace,
        [
            {"output": "fine", "finish_reason": "stop"},
            {"output": "the answer is", "finish_reason": "length"},
            {"output": '{"decision": "match", "reasons": ["a", "b"', "finish_reason": "stop"},
            {"output": "```json\n{}", "finish_reason": None},
            {"output": '{"ok": true}', "finish_reason": "stop"},
        ],
    )
    found = detect(workspace, "truncated")
    assert set(found["record_id"]) == {ids[1], ids[2], ids[3]}
    assert evidence(found, ids[1]) == "finish_reason=length"
    assert (
        evidence(found, ids[2])
        == "output ends inside a JSON structure (2 brackets opened, 0 closed)"
    )
    assert "code block" in evidence(found, ids[3])


def test_finish_reasons_are_configurable(workspace):
    ids = put(workspace, [{"output": "x", "finish_reason": "MAX_TOKENS_CUSTOM"}])
    found = detect(workspace, "truncated", settings={"finish_reasons": ["MAX_TOKENS_CUSTOM"]})
    assert found["record_id"].to_list() == ids
