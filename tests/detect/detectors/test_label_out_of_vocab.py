from tests.detect.detectors.helpers import LABELS, TOPICS, detect, evidence, put


def test_out_of_vocab_names_the_nearest_label(workspace):
    ids = put(
        workspace,
        [
            {"output": '{"decision": "Match"}'},
            {"output": '{"decision": "yes"}'},
            {"output": '{"decision": "possible_match"}'},
            {"output": '{"decision": "non-match"}'},
        ],
        task="em",
    )
    found = detect(workspace, "label_out_of_vocab", {"em": LABELS})
    assert found["record_id"].to_list() == [ids[2]]
    text = evidence(found, ids[2])
    assert text.startswith("label 'possible_match' is not one of [match, non_match]")
    assert "nearest: 'match' (score" in text


def test_prefix_mode_reads_the_first_words(workspace):
    ids = put(
        workspace,
        [{"output": "Billing."}, {"output": "technical: the app crashes"}, {"output": "refund"}],
        task="t",
    )
    found = detect(workspace, "label_out_of_vocab", {"t": TOPICS})
    assert found["record_id"].to_list() == [ids[2]]
    assert "nearest:" in evidence(found, ids[2])
