from tests.detect.detectors.helpers import LABELS, detect, evidence, put


def test_fires_on_broken_json_with_the_parsers_position(workspace):
    ids = put(
        workspace,
        [
            {"output": '{"decision": "match"}'},
            {"output": '{"decision": "match",}'},
            {"output": "```json\n{}\n```"},
            {"output": None, "error": "timeout"},
            {"output": "  "},
        ],
        task="em",
    )
    found = detect(workspace, "invalid_json", {"em": LABELS})
    assert set(found["record_id"]) == {ids[1], ids[2]}
    assert evidence(found, ids[1]).startswith("not valid JSON: ")
    assert evidence(found, ids[1]).endswith(
        "Expecting property name enclosed in double quotes at line 1 column 22 (char 21)"
    )
    assert set(found["severity"]) == {"high"}


def test_does_not_apply_to_tasks_without_json(workspace):
    put(workspace, [{"output": "{broken"}], task="t")
    found = detect(workspace, "invalid_json", {"t": {"kind": "classification", "labels": ["a"]}})
    assert found.height == 0
