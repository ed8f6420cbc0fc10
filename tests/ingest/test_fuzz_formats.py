"""Hostile input for every format reader: random bytes, truncated JSON, wrong types anywhere.

Whatever the lines, ingest must not fail, and every line must be accounted for: ingested +
duplicates + quarantined + skipped = the lines read (for the formats where a line is one call;
for the others, no line is lost: each is a record, a skip or a quarantine row).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.core.errors import InputError
from curate.core.project import Project
from curate.core.workspace import Workspace
from curate.ingest.stage import ingest_logs
from tests import logs

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
ONE_CALL_PER_LINE = ["openai_chat", "openai_batch", "litellm", "langsmith", "table"]
TABLE_MAP = {"input": "question", "output": "answer", "id": "qid"}


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON object."""
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            out += _paths(value, (*prefix, i))
    return out


def _replace(obj: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = json.loads(json.dumps(obj))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


@st.composite
def hostile_line(draw, fmt: str, index: int) -> bytes:
    call = logs.calls(index + 1, ["billing", None, "Topic: x"])[index]
    valid = logs.WRITERS[fmt](call)
    kind = draw(st.sampled_from(["valid", "bytes", "truncated", "wrong type", "not an object"]))
    if kind == "valid":
        return json.dumps(valid).encode()
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=60)).replace(b"\n", b" ")
    if kind == "truncated":
        text = json.dumps(valid).encode()
        return text[: draw(st.integers(1, len(text) - 1))]
    if kind == "not an object":
        return json.dumps(draw(JSON)).encode()
    path = draw(st.sampled_from(_paths(valid)))
    return json.dumps(_replace(valid, path, draw(JSON))).encode()


@st.composite
def hostile_file(draw, fmt: str) -> list[bytes]:
    n = draw(st.integers(1, 12))
    return [draw(hostile_line(fmt, i)) for i in range(n)]


def _ingest(fmt: str, lines: list[bytes]):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        workspace = Workspace(Path(folder) / ".curate")
        workspace.create()
        result = ingest_logs(
            Project(workspace),
            [path],
            format_name=fmt,
            field_map=TABLE_MAP if fmt == "table" else None,
        )
        stored = workspace.scan_records().select("record_id").collect().height
        quarantined = workspace.scan("quarantine").collect().height
    return result, stored, quarantined


FUZZ = settings(  # CURATE_FUZZ_EXAMPLES=2000 for a longer hunt
    max_examples=int(os.environ.get("CURATE_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)


def _check_accounting(fmt: str, lines: list[bytes]) -> None:
    try:
        result, stored, quarantined = _ingest(fmt, lines)
    except InputError as exc:  # a file unreadable as a whole is said, with the file's name:
        assert "log.jsonl" in str(exc)
        # gzip magic then junk; Parquet's magic then junk; a table none of whose objects has a
        # mapped key; a lone bracket on the first line, then no valid JSON document
        assert (
            lines[0].startswith(b"\x1f\x8b")
            or (lines[0].startswith(b"PAR1") and "cannot be read as Parquet" in str(exc))
            or "no object has the mapped keys" in str(exc)
            or (lines[0].strip() in (b"[", b"{") and "one JSON document" in str(exc))
        )
        return
    read = sum(1 for line in lines if line.strip(b" \t\r"))  # blank: JSON white space only
    try:  # a file that is one JSON array is read item by item
        whole = json.loads(b"\n".join(lines))
        read = len(whole) if isinstance(whole, list) else read
    except ValueError:
        pass
    skipped = sum(result.skipped.values())
    assert stored == result.ingested and quarantined == result.quarantined
    if fmt in ONE_CALL_PER_LINE:
        assert result.ingested + result.duplicates + result.quarantined + skipped == read
    else:
        assert result.quarantined <= read


@pytest.mark.parametrize("fmt", list(logs.WRITERS))
@FUZZ
@given(data=st.data())
def test_every_reader_accounts_for_every_line(fmt, data):
    _check_accounting(fmt, data.draw(hostile_file(fmt)))


@FUZZ
@given(st.binary(max_size=400))
def test_vcr_random_bytes(blob):
    """A cassette of random bytes: a clear InputError or quarantine, never a crash."""
    from curate.core.errors import InputError

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.yaml"
        path.write_bytes(b"interactions:\n" + blob)
        workspace = Workspace(Path(folder) / ".curate")
        workspace.create()
        with contextlib.suppress(InputError):
            ingest_logs(Project(workspace), [path], format_name="vcr")
