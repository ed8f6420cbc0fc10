"""[tasks.NAME.queue] overlap_share: a share of the records answered by two people (a second
dataset, curate-TASK-overlap) while the rest is answered once; agreement is measured on that
share. On the in-memory queue, two scripted annotators."""

from __future__ import annotations

from curate.core.project import Project
from curate.queue import memory
from curate.queue.stage import pull_queue, push_queue, queue_status
from tests.conftest import balanced_sample
from tests.queue.test_adjudication import _answer

MAIN, TWICE = "curate-entity_match", "curate-entity_match-overlap"
EXTRA = '\n[tasks.entity_match.queue]\noverlap_share = 0.25\n[queue]\nbackend = "memory"\n'


def test_a_share_is_answered_twice_and_agreement_is_measured_on_it(tmp_path):
    workspace, config = balanced_sample(tmp_path, 80, 3, EXTRA)
    project = Project(workspace, config)
    (pushed,) = push_queue(project, task="entity_match")
    queue = memory.connect(config)
    once, twice = queue.datasets[MAIN], queue.datasets[TWICE]
    assert (once.min_submitted, twice.min_submitted) == (1, 2)
    assert pushed.overlap == len(twice.records) and pushed.overlap_dataset == TWICE
    assert not set(once.records) & set(twice.records)  # each record in one dataset
    assert pushed.pushed == len(once.records) + len(twice.records)
    share = len(twice.records) / pushed.pushed
    assert 0.15 < share < 0.35, share  # about the share asked (a hash of the record id)

    # pushed again: nothing moves from one dataset to the other, nothing is sent twice
    split = (set(once.records), set(twice.records))
    push_queue(project, task="entity_match")
    assert (set(once.records), set(twice.records)) == split

    disagree = set(sorted(twice.records)[:3])
    for record in once.records.values():
        _answer(record, "u1", "match")
        record["status"] = "completed"  # one answer: what the dataset asks
    for record_id, record in twice.records.items():
        _answer(record, "u1", "match")
        _answer(record, "u2", "non_match" if record_id in disagree else "match")
        record["status"] = "completed"  # two answers
    pulled = pull_queue(project, task="entity_match")
    label = pulled.agreement["label"]
    assert label["records"] == len(twice.records)  # measured where two people answered
    assert label["percent_agreement"] == round(1 - 3 / len(twice.records), 4)
    assert pulled.records_answered == pushed.pushed
    # the conflicts go to the one adjudication dataset, none of it to an overlap of it
    adjudication = queue.datasets["curate-entity_match-adjudication"]
    assert set(adjudication.records) == disagree
    assert not [d for d in queue.datasets if d.endswith("-adjudication-overlap")]
    status = queue_status(project, task="entity_match")["entity_match"]
    assert status["overlap"] == {"dataset": TWICE, "records": len(twice.records)}
    assert status["totals"] == {"completed": pushed.pushed}


def test_no_overlap_share_no_second_dataset(tmp_path):
    workspace, config = balanced_sample(tmp_path, 20, 3, '\n[queue]\nbackend = "memory"\n')
    (pushed,) = push_queue(Project(workspace, config), task="entity_match")
    assert pushed.overlap == 0 and pushed.overlap_dataset is None
    assert TWICE not in memory.connect(config).datasets
