from tests.detect.detectors.helpers import detect, evidence, put


def test_low_scores_and_corrections(workspace):
    ids = put(
        workspace,
        [
            {"output": "a", "feedback_score": 1.0},
            {"output": "b", "feedback_score": 0.0, "feedback_comment": "wrong person"},
            {"output": "c", "correction": "non_match"},
            {"output": "d", "feedback_score": 0.4},
        ],
    )
    found = detect(workspace, "negative_feedback")
    assert set(found["record_id"]) == set(ids[1:])
    assert evidence(found, ids[1]) == "feedback score 0.0 < 0.5, comment 'wrong person'"
    assert evidence(found, ids[2]) == "correction 'non_match'"
    quiet = detect(workspace, "negative_feedback", settings={"threshold": 0.3})
    assert ids[3] not in set(quiet["record_id"])
