from tests.detect.detectors.helpers import TOPICS, detect, evidence, put


def test_same_input_different_answers(workspace):
    same = [
        {"role": "system", "content": "v1"},
        {"role": "user", "content": "My card was charged twice"},
    ]
    spaced = [
        {"role": "system", "content": "v1"},
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


def test_answers_are_compared_within_one_model_and_prompt_version(workspace):
    """A second model, or a second prompt version, answering the same input otherwise is what
    `report --compare` measures, not an inconsistency of either."""
    question = {"role": "user", "content": "My card was charged twice"}
    v1 = [{"role": "system", "content": "v1"}, question]
    v2 = [{"role": "system", "content": "v2"}, question]
    ids = put(
        workspace,
        [
            {"messages": v1, "model": "old", "output": "billing"},
            {"messages": v1, "model": "old", "output": "billing"},
            {"messages": v1, "model": "new", "output": "technical"},  # another model
            {"messages": v2, "model": "old", "output": "other"},  # another prompt version
            {"messages": v1, "model": "new", "output": "billing"},  # disagrees with itself
            {"messages": v1, "model": None, "output": "billing"},  # no model logged: its own
            {"messages": v1, "model": None, "output": "other"},
        ],
        task="t",
    )
    found = detect(workspace, "inconsistent", {"t": TOPICS})
    assert set(found["record_id"]) == {ids[2], ids[4], ids[5], ids[6]}


def test_quiet_when_answers_agree(workspace):
    same = [{"role": "user", "content": "q"}]
    put(workspace, [{"messages": same, "output": "a"}, {"messages": same, "output": "A"}])
    assert detect(workspace, "inconsistent").height == 0
