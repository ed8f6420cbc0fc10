"""Known answers without a workspace: which references answer for people (trust, audit, ignore),
what they answer, the seeded audit share, and the audit's agreement figures."""

from __future__ import annotations

import hashlib
import json

import polars as pl
import pytest

from curate.core.answers import (
    DEFAULT_AUDIT_SHARE,
    audited,
    by_reference,
    contradicting_references,
    reference_audit,
    reference_label,
)
from curate.core.tasks import Task
from tests.units.formulas import cohen_kappa_by_formula


def _task(references: str = "trust", labels=("match", "non_match"), **answers) -> Task:
    return Task(
        name="t",
        kind="classification" if labels else "extraction",
        labels=list(labels),
        synonyms={"match": ["same"]} if labels else {},
        answers={"references": references, **answers},
    )


def _records(rows: list[tuple]) -> pl.DataFrame:
    """(record_id, input_hash, reference, label read) rows of task t."""
    return pl.DataFrame(
        [
            {"record_id": r, "task": "t", "input_hash": h, "reference": ref, "label": lab}
            for r, h, ref, lab in rows
        ],
        schema={
            "record_id": pl.String,
            "task": pl.String,
            "input_hash": pl.UInt64,
            "reference": pl.String,
            "label": pl.String,
        },
    )


def _candidates(ids: list[str], controls: tuple[str, ...] = ()) -> pl.DataFrame:
    return pl.DataFrame(
        {"record_id": ids, "task": ["t"] * len(ids), "is_control": [r in controls for r in ids]}
    )


def _answers(frame: pl.DataFrame) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for record_id, question, value, source in frame.iter_rows():
        assert source == "reference"
        out.setdefault(record_id, {})[question] = json.loads(value)
    return out


def _by_hand(record_id: str, seed: int, share: float) -> bool:
    """The audit draw written out: the first 8 bytes of sha256("seed:id") as a share of 2^64."""
    value = int(hashlib.sha256(f"{seed}:{record_id}".encode()).hexdigest()[:16], 16)
    return value / 2**64 < share


def test_the_audit_share_is_seeded_and_near_its_size():
    ids = [f"rec-{i}" for i in range(4000)]
    task = _task("audit", audit_share=0.25, audit_seed=7)
    drawn = [audited(r, task) for r in ids]
    assert drawn == [_by_hand(r, 7, 0.25) for r in ids]
    assert 0.22 < sum(drawn) / len(ids) < 0.28  # 0.25 +- 5 standard errors
    other_seed = [audited(r, _task("audit", audit_share=0.25, audit_seed=8)) for r in ids]
    assert other_seed != drawn
    default = [audited(r, _task("audit")) for r in ids]
    assert default == [_by_hand(r, 0, DEFAULT_AUDIT_SHARE) for r in ids]
    assert DEFAULT_AUDIT_SHARE == 0.1
    assert not any(audited(r, _task("audit", audit_share=0)) for r in ids)
    assert all(audited(r, _task("audit", audit_share=1)) for r in ids)


def test_trusted_references_answer_with_the_label_and_whether_it_failed():
    records = _records(
        [
            ("ok", 1, "match", "match"),  # the model was right
            ("wrong", 2, "Same", "non_match"),  # a synonym of match; the model said otherwise
            ("flagged", 3, "non_match", "non_match"),  # right label, but a detector found something
            ("none", 4, None, "match"),  # no reference: people label it
            ("odd", 5, "maybe", "match"),  # a reference that is no label: people label it
            ("other", 6, "match", "match"),  # not a candidate
        ]
    )
    # candidates: controls (the model passed every detector) but "flagged"
    candidates = _candidates(
        ["ok", "wrong", "flagged", "none", "odd"], controls=("ok", "wrong", "none", "odd")
    )
    got = _answers(by_reference(records, candidates, {"t": _task("trust")}))
    assert got == {
        "ok": {"label": "match", "is_failure": "no"},
        "wrong": {"label": "match", "is_failure": "yes"},
        "flagged": {"label": "non_match", "is_failure": "yes"},
    }


def test_references_of_a_task_without_labels_are_the_corrected_output():
    records = _records([("r1", 1, '{"name": "Ann"}', None), ("r2", 2, '{"name": "Bo"}', None)])
    candidates = _candidates(["r1", "r2"], controls=("r2",))
    got = _answers(by_reference(records, candidates, {"t": _task("trust", labels=())}))
    assert got == {
        "r1": {"corrected_output": '{"name": "Ann"}', "is_failure": "yes"},
        "r2": {"corrected_output": '{"name": "Bo"}', "is_failure": "no"},
    }


def test_ignore_answers_nothing_and_audit_leaves_its_share_to_people():
    ids = [f"r{i}" for i in range(200)]
    records = _records([(r, i, "match", "match") for i, r in enumerate(ids)])
    candidates = _candidates(ids, controls=tuple(ids))
    assert by_reference(records, candidates, {"t": _task("ignore")}).height == 0
    task = _task("audit", audit_share=0.3, audit_seed=1)
    answered = set(by_reference(records, candidates, {"t": task})["record_id"])
    assert answered == {r for r in ids if not _by_hand(r, 1, 0.3)}
    assert 0 < len(answered) < len(ids)
    # another task's candidates are not this task's
    other = candidates.with_columns(pl.lit("u").alias("task"))
    assert by_reference(records, other, {"t": _task("trust")}).height == 0
    empty = by_reference(records, candidates, {})
    assert empty.schema == pl.Schema(
        {"record_id": pl.String, "question": pl.String, "value": pl.String, "source": pl.String}
    )


def test_contradicting_references_answer_for_no_one():
    records = _records(
        [
            ("a1", 1, "match", "match"),
            ("a2", 1, "non_match", "match"),  # input 1 referenced both ways
            ("b1", 2, "match", "match"),
            ("b2", 2, "same", "match"),  # a synonym: the same answer
            ("c1", None, "match", "match"),  # no input hash: nothing to contradict
            ("c2", None, "non_match", "match"),
        ]
    )
    task = _task("trust")
    split = contradicting_references(records, task)
    assert sorted(split["record_id"]) == ["a1", "a2"]
    assert split.columns == ["record_id", "input_hash"]
    candidates = _candidates(
        ["a1", "a2", "b1", "b2", "c1", "c2"], controls=("a1", "a2", "b1", "b2", "c1", "c2")
    )
    assert sorted(by_reference(records, candidates, {"t": task})["record_id"].unique()) == [
        "b1",
        "b2",
        "c1",
        "c2",
    ]
    other_task = records.with_columns(pl.lit("u").alias("task"))
    assert contradicting_references(other_task, task).height == 0


def test_the_reference_read_as_a_label():
    task = _task("trust")
    frame = pl.DataFrame({"reference": ["Match!", "SAME", "non match", "nope", None]})
    got = frame.select(reference_label(task))["reference"].to_list()
    assert got == ["match", "match", "non_match", None, None]


def test_the_audit_agreement_of_people_and_references():
    refs = ["match"] * 6 + ["non_match"] * 6
    people = ["match"] * 5 + ["non_match"] * 5 + ["match"] * 2
    rows = [(f"r{i}", i, ref, None) for i, ref in enumerate(refs)]
    rows.append(("unanswered", 99, "match", None))
    records = _records(rows)
    resolved = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(12)] + ["r0"],
            "question": ["label"] * 12 + ["is_failure"],
            "value": [json.dumps(p) for p in people] + ['"yes"'],
        }
    )
    got = reference_audit(records, resolved, {"t": _task("audit")})["t"]
    assert got["records"] == 12
    assert got["agreement"] == 0.75
    assert got["kappa"] == pytest.approx(cohen_kappa_by_formula(refs, people), abs=5e-5)
    low, high = got["kappa_ci"]
    assert low < got["kappa"] < high
    assert got["disagreements"] == [
        {"record_id": "r5", "reference": "match", "people": "non_match"},
        {"record_id": "r10", "reference": "non_match", "people": "match"},
        {"record_id": "r11", "reference": "non_match", "people": "match"},
    ]
    # trust is audited too when people answered; ignore is not; a task without labels is not
    assert reference_audit(records, resolved, {"t": _task("trust")})["t"]["records"] == 12
    assert reference_audit(records, resolved, {"t": _task("ignore")}) == {}
    assert reference_audit(records, resolved, {"t": _task("trust", labels=())}) == {}
    nobody = resolved.filter(pl.col("question") == "is_failure")
    assert reference_audit(records, nobody, {"t": _task("audit")}) == {"t": {"records": 0}}


def test_every_task_is_answered_whatever_comes_before_it():
    records = _records([("r1", 1, "match", "match")]).vstack(
        _records([("u1", 2, "match", "match")]).with_columns(pl.lit("u").alias("task"))
    )
    candidates = pl.DataFrame(
        {"record_id": ["r1", "u1"], "task": ["t", "u"], "is_control": [True, True]}
    )
    ignored, trusted = _task("ignore"), _task("trust")
    got = by_reference(records, candidates, {"t": ignored, "u": trusted})
    assert sorted(got["record_id"].unique()) == ["u1"]


def test_a_contradiction_counts_whatever_the_label_read():
    records = _records([("a1", 1, "match", None), ("a2", 1, "non_match", None)])
    assert sorted(contradicting_references(records, _task("trust"))["record_id"]) == ["a1", "a2"]


def test_a_case_sensitive_task_reads_its_references_as_written():
    task = Task(
        name="t", kind="classification", labels=["Yes", "yes"], case_sensitive=True, answers={}
    )
    frame = pl.DataFrame({"reference": ["Yes", "yes", "YES"]})
    assert frame.select(reference_label(task))["reference"].to_list() == ["Yes", "yes", None]


def test_the_audit_is_per_task_and_lists_twenty_disagreements():
    refs = ["match"] * 30 + ["non_match"] * 5
    people = ["non_match"] * 25 + ["match"] * 10
    records = _records([(f"r{i}", i, ref, None) for i, ref in enumerate(refs)])
    other = _records([("u1", 99, "match", None)]).with_columns(pl.lit("u").alias("task"))
    resolved = pl.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(35)] + ["u1"],
            "question": ["label"] * 36,
            "value": [json.dumps(p) for p in people] + ['"non_match"'],
        }
    )
    tasks = {"a": _task("ignore"), "z": _task("trust", labels=()), "t": _task("audit")}
    got = reference_audit(records.vstack(other), resolved, tasks)
    assert list(got) == ["t"]
    summary = got["t"]
    assert set(summary) == {"records", "agreement", "disagreements", "kappa", "kappa_ci"}
    assert summary["records"] == 35  # task u's record is not task t's
    assert summary["agreement"] == round(5 / 35, 4) == 0.1429
    assert len(summary["disagreements"]) == 20


def test_referenced_records_carry_the_label_detect_read(workspace):
    from curate.core.answers import referenced_records
    from tests.detect.detectors.helpers import put

    ids = put(workspace, [{"reference": "match"}, {"reference": None}], task="t")
    before = referenced_records(workspace)  # no labels table yet: labels are null
    assert before.columns == ["record_id", "task", "input_hash", "reference", "label"]
    assert before["label"].to_list() == [None, None]
    workspace.write_table(
        "labels",
        pl.DataFrame(
            {
                "record_id": [ids[0]],
                "task": ["t"],
                "label_raw": ["Match"],
                "label": ["match"],
                "label_status": ["ok"],
                "class": ["match"],
            }
        ),
    )
    got = referenced_records(workspace).sort("reference", nulls_last=True)
    assert got.select("record_id", "task", "reference", "label").rows() == [
        (ids[0], "t", "match", "match"),
        (ids[1], "t", None, None),
    ]
    assert got["input_hash"].null_count() == 0


def test_a_task_nobody_audited_does_not_stop_the_next():
    records = _records([("r1", 1, "match", None)]).vstack(
        _records([("u1", 2, "match", None)]).with_columns(pl.lit("u").alias("task"))
    )
    resolved = pl.DataFrame({"record_id": ["u1"], "question": ["label"], "value": ['"match"']})
    got = reference_audit(records, resolved, {"t": _task("audit"), "u": _task("audit")})
    assert got["t"] == {"records": 0} and got["u"]["records"] == 1
