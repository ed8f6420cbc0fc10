from tests.detectors.helpers import TOPICS, detect, evidence, put


def test_same_input_different_answers(workspace):
    same = [
        {"role": "system", "content": "v1"},
        {"role": "user", "content": "My card was charged twice"},
    ]
    spaced = [
        {"role": "system", "content": "v2"},
        {"role": "user", "content": "my card  was charged TWICE"},
    ]
    ids = put(
        workspace,
        [
            {"messages": same, "output": "billing"},
            {"messages": spaced, "output": "technical"},
            {"messages": same, "output": "Billing."},
            {"messages": [{"role": "user", "content": "other"}], "output": "other"},
        ],
        task="t",
    )
    found = detect(workspace, "inconsistent", {"t": TOPICS})
    assert set(found["record_id"]) == set(ids[:3])
    assert evidence(found, ids[0]) == (
        "the same input got different answers in 3 records: 'billing' ×2, 'technical' ×1"
    )


def test_quiet_when_answers_agree(workspace):
    same = [{"role": "user", "content": "q"}]
    put(workspace, [{"messages": same, "output": "a"}, {"messages": same, "output": "A"}])
    assert detect(workspace, "inconsistent").height == 0
