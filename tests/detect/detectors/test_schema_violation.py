import json

from tests.detect.detectors.helpers import LABELS, detect, evidence, put


def test_fires_with_json_path_and_rule(tmp_path, workspace):
    schema = {
        "type": "object",
        "required": ["decision"],
        "properties": {
            "decision": {"enum": ["match", "non_match"]},
            "confidence": {"type": "number", "maximum": 1},
        },
    }
    (tmp_path / "out.schema.json").write_text(json.dumps(schema))
    (tmp_path / "curate.toml").write_text("")
    ids = put(
        workspace,
        [
            {"output": '{"decision": "match", "confidence": 0.9}'},
            {"output": '{"decision": "maybe"}'},
            {"output": '{"confidence": 2}'},
            {"output": "not json"},
        ],
        task="em",
    )
    task = {**LABELS, "output_schema": "out.schema.json"}
    found = detect(
        workspace, "schema_violation", {"em": task}, config_path=tmp_path / "curate.toml"
    )
    assert set(found["record_id"]) == {ids[1], ids[2]}
    assert evidence(found, ids[1]).startswith("$.decision: 'maybe' is not one of")
    assert "(rule: enum)" in evidence(found, ids[1])
    assert "rule: required" in evidence(found, ids[2]) or "rule: maximum" in evidence(found, ids[2])
