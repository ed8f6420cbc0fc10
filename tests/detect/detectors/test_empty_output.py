from tests.detect.detectors.helpers import detect, evidence, put


def test_empty_without_an_explanation(workspace):
    ids = put(
        workspace,
        [
            {"output": "", "finish_reason": "stop"},
            {"output": "  \n"},
            {"output": None, "tool_calls": [{"id": "1", "name": "f", "arguments": "{}"}]},
            {"output": None, "error": "boom"},
            {"output": None, "refusal": "no"},
            {"output": "text"},
        ],
    )
    found = detect(workspace, "empty_output")
    assert set(found["record_id"]) == {ids[0], ids[1]}
    assert evidence(found, ids[0]) == "empty output (finish_reason=stop)"
