"""read_items: the loop the JSON-items readers share (Langfuse, OTel, LiteLLM, Batch output)."""

import json

import curate.ingest.formats.base as base
from curate.ingest.formats.base import Batch, ReadContext, Source, read_items


def _read(path, **kw):
    def read_item(number, raw, item):
        if item.get("skip"):
            return [], {"skipped kind": 1}
        return [(number, item["value"].upper())], {}

    def batch(rows, quarantined, skipped):
        out = Batch(None, quarantined, skipped)
        out.rows = rows
        return out

    return list(
        read_items(
            Source(path),
            ReadContext(),
            is_item=lambda item: isinstance(item, dict) and ("value" in item or "skip" in item),
            not_item="not mine",
            read_item=read_item,
            batch=batch,
            **kw,
        )
    )


def test_every_item_is_a_row_a_skip_or_a_quarantine_row_with_its_line(tmp_path):
    path = tmp_path / "items.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"value": "a"}),
                "{not json",
                json.dumps({"other": 1}),
                json.dumps({"value": 5}),  # .upper() of a number: a shape error
                "",
                json.dumps({"skip": True}),
                json.dumps({"value": "b"}),
            ]
        )
        + "\n"
    )
    seen = []
    (batch,) = _read(path, end=seen.append)
    assert batch.rows == [(1, "A"), (7, "B")]
    assert [(q.line, q.reason.split(":")[0]) for q in batch.quarantined] == [
        (2, "not valid JSON"),
        (3, "not mine"),
        (4, "a field has an unexpected type or shape (AttributeError"),
    ]
    assert batch.skipped == {"skipped kind": 1}
    assert seen == [batch]


def test_an_item_of_a_json_document_is_quarantined_with_its_own_text(tmp_path):
    path = tmp_path / "items.json"
    path.write_text(json.dumps([{"value": "a"}, {"other": 1}]))
    (batch,) = _read(path)
    assert batch.rows == [(1, "A")]
    (bad,) = batch.quarantined
    assert (bad.line, bad.reason) == (2, "not mine") and json.loads(bad.raw) == {"other": 1}


def test_batches_are_bounded_and_the_end_sees_only_the_last(tmp_path, monkeypatch):
    monkeypatch.setattr(base, "BATCH_ITEMS", 2)
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({"value": c}) + "\n" for c in "abcde"))
    seen = []
    batches = _read(path, end=seen.append)
    assert [b.rows for b in batches] == [[(1, "A"), (2, "B")], [(3, "C"), (4, "D")], [(5, "E")]]
    assert seen == [batches[-1]]
