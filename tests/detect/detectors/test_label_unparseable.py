from tests.detect.detectors.helpers import LABELS, TOPICS, detect, evidence, put


def test_json_field_missing_or_not_json(workspace):
    ids = put(
        workspace,
        [
            {"output": '{"decision": "match"}'},
            {"output": '{"verdict": "match"}'},
            {"output": "match"},
            {"output": None, "error": "HTTP 500"},
        ],
        task="em",
    )
    found = detect(workspace, "label_unparseable", {"em": LABELS})
    assert set(found["record_id"]) == {ids[1], ids[2]}
    assert evidence(found, ids[1]).startswith("no JSON field 'decision' in output '{")


def test_regex_mode(workspace):
    task = {**TOPICS, "parse": {"mode": "regex", "pattern": r"topic:\s*(\w+)"}}
    ids = put(workspace, [{"output": "Topic: Billing"}, {"output": "billing"}], task="t")
    found = detect(workspace, "label_unparseable", {"t": task})
    assert found["record_id"].to_list() == [ids[1]]
    assert "does not match" in evidence(found, ids[1])
