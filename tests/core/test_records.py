from __future__ import annotations

import json

import jsonschema
import polars as pl

from curate.core.config import load_schema
from curate.core.project import Project
from curate.core.records import QUARANTINE_SCHEMA, RECORD_SCHEMA, coerce, finalize
from curate.ingest.stage import ingest_logs
from tests.conftest import chat_line, quarantine, records, write_jsonl


def test_polars_schemas_and_json_schemas_name_the_same_fields():
    assert set(RECORD_SCHEMA.names()) == set(load_schema("record")["properties"])
    assert set(QUARANTINE_SCHEMA.names()) == set(load_schema("quarantine")["properties"])


def _json_rows(frame: pl.DataFrame) -> list[dict]:
    return json.loads(frame.write_json())


def test_ingested_rows_validate_against_the_json_schemas(tmp_path, workspace):
    lines = [chat_line(1, feedback="thumbs_down"), {"request": {}, "error": "boom"}, "junk"]
    ingest_logs(Project(workspace), [write_jsonl(tmp_path / "c.jsonl", lines)])
    record_validator = jsonschema.Draft202012Validator(load_schema("record"))
    for row in _json_rows(records(workspace)):
        record_validator.validate(row)
    quarantine_validator = jsonschema.Draft202012Validator(load_schema("quarantine"))
    for row in _json_rows(quarantine(workspace)):
        quarantine_validator.validate(row)


def test_record_id_is_sha256_of_format_and_native_id():
    import hashlib

    frame = pl.DataFrame({"source_id": ["abc", None], "_raw": ["x", "raw line"]})
    ids = finalize(frame, source_format="openai_chat", task=None)["record_id"].to_list()
    assert ids[0] == hashlib.sha256(b"openai_chat\x1fid:abc").hexdigest()[:32]
    assert ids[1] == hashlib.sha256(b"openai_chat\x1fraw:raw line").hexdigest()[:32]


def test_coerce_fits_values_to_the_schema():
    dtype = pl.Struct(
        {"a": pl.String, "b": pl.Int64, "c": pl.List(pl.Float64), "d": pl.Struct({"e": pl.String})}
    )
    got = coerce(
        {"a": {"x": 1}, "b": "7", "c": [1, "2", "z"], "d": "not an object", "extra": 1}, dtype
    )
    assert got == {"a": '{"x":1}', "b": 7, "c": [1.0, 2.0, None], "d": None}
