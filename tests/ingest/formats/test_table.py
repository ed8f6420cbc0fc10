from __future__ import annotations

import json

import polars as pl
import pytest

from curate.core.errors import InputError
from curate.core.project import Project
from curate.ingest.stage import ingest_logs
from tests.conftest import quarantine, records, write_jsonl

MAP = {"input": "question", "output": "answer", "reference": "label", "id": "qid"}


def test_csv_with_column_mapping(tmp_path, workspace):
    path = tmp_path / "qa.csv"
    path.write_text(
        "qid,question,answer,label,team\n1,Is it billing?,billing,billing,a\n2,,x,y,b\n"
    )
    result = ingest_logs(Project(workspace), [path], field_map=MAP)
    assert result.ingested == 1 and result.quarantined == 1
    row = records(workspace).row(0, named=True)
    assert row["source_format"] == "table" and row["source_id"] == "1"
    assert row["messages"] == [
        {
            "role": "user",
            "content": "Is it billing?",
            "name": None,
            "tool_call_id": None,
            "tool_calls": None,
        }
    ]
    assert (row["output"], row["reference"]) == ("billing", "billing")
    assert json.loads(row["metadata"]) == {"team": "a"}
    assert "'question' is empty" in quarantine(workspace)["reason"][0]


def test_jsonl_and_parquet_with_nested_columns(tmp_path, workspace):
    rows = [
        {"qid": 1, "q": {"text": "hello"}, "answer": "hi", "label": 1, "ts": "2026-10-01T00:00:00Z"}
    ]
    jsonl = write_jsonl(tmp_path / "a.jsonl", [*rows, "not json"])
    field_map = {
        "input": "q.text",
        "output": "answer",
        "reference": "label",
        "id": "qid",
        "timestamp": "ts",
    }
    result = ingest_logs(Project(workspace), [jsonl], field_map=field_map)
    assert (result.ingested, result.quarantined) == (1, 1)
    parquet = tmp_path / "b.parquet"
    pl.DataFrame({"qid": [2], "question": ["q2"], "answer": ["a2"], "label": ["l2"]}).write_parquet(
        parquet
    )
    assert ingest_logs(Project(workspace), [parquet], field_map=MAP).ingested == 1
    got = records(workspace).select("source_id", "reference", "timestamp").sort("source_id").rows()
    assert got[0][:2] == ("1", "1") and got[0][2].isoformat() == "2026-10-01T00:00:00+00:00"
    assert got[1][:2] == ("2", "l2")


def test_mapping_errors_name_the_field_and_the_choices(tmp_path, workspace):
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\nq,a\n")
    with pytest.raises(InputError, match="'answr' is not a field"):
        ingest_logs(Project(workspace), [path], field_map={"input": "question", "answr": "answer"})
    with pytest.raises(InputError, match=r"no column 'anser'.*Columns: question, answer"):
        ingest_logs(Project(workspace), [path], field_map={"input": "question", "output": "anser"})
    with pytest.raises(InputError, match="needs the model's answer"):
        ingest_logs(Project(workspace), [path], field_map={"input": "question"})


def test_every_column_mapped(tmp_path, workspace):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"q": "a", "a": "b"}\n{"q": "c", "a": "d"}\n')
    result = ingest_logs(Project(workspace), [path], field_map={"input": "q", "output": "a"})
    assert result.ingested == 2
    assert records(workspace)["metadata"].to_list() == [None, None]


def test_mixed_value_types_in_one_jsonl_column(tmp_path, workspace):
    path = tmp_path / "qa.jsonl"
    path.write_text(
        '{"q": "a", "a": "b", "x": 1}\n{"q": "c", "a": "d", "x": "two"}\n'
        '{"q": "e", "a": {"k": 1}, "x": [3]}\n{"q": "f", "a": 7, "x": 99999999999999999999}\n'
    )
    result = ingest_logs(Project(workspace), [path], field_map={"input": "q", "output": "a"})
    assert (result.ingested, result.quarantined) == (4, 0)
    assert records(workspace)["output"].to_list() == ["b", "d", '{"k":1}', "7"]


def test_ragged_csv_rows_go_to_quarantine_with_their_line(tmp_path, workspace):
    path = tmp_path / "qa.csv"
    path.write_text('q,a\nhello,world\nx,y,z\nonly\n"two\nlines",ok\nlast,row\n')
    result = ingest_logs(Project(workspace), [path], field_map={"input": "q", "output": "a"})
    assert (result.ingested, result.quarantined) == (3, 2)
    assert records(workspace)["source_line"].to_list() == [2, 5, 7]
    rows = quarantine(workspace).select("line", "reason").rows()
    assert rows == [
        (3, "3 fields where the header has 2"),
        (4, "1 fields where the header has 2"),
    ]


def test_turns_are_the_non_null_texts_in_order():
    """The offsets-built lists equal polars' concat_list + filter on every null pattern."""
    from curate.core.records import MESSAGE
    from curate.ingest.formats.messages import turns

    system = pl.Series([None, "Be brief.", None, "S", "", None] * 50, dtype=pl.String)
    user = pl.Series([None, "q", "only user", None, "", "x"] * 50, dtype=pl.String)
    got = turns(("system", system), ("user", user))
    frame = pl.DataFrame({"s": system, "u": user})
    expected = frame.select(
        pl.concat_list(
            pl.struct(role=pl.lit("system"), content=pl.col("s")).cast(MESSAGE),
            pl.struct(role=pl.lit("user"), content=pl.col("u")).cast(MESSAGE),
        )
        .list.eval(pl.element().filter(pl.element().struct.field("content").is_not_null()))
        .cast(pl.List(MESSAGE))
    ).to_series()
    assert got.dtype == pl.List(MESSAGE) and len(got) == 300
    assert got.to_list() == expected.to_list()
    assert [len(m) for m in got.to_list()[:6]] == [0, 2, 1, 1, 2, 1]
    assert turns(("user", pl.Series([], dtype=pl.String))).to_list() == []
