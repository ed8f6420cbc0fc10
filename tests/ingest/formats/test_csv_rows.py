"""CSV rows read by polars (formats/csv_rows.py) are what the csv module reads: the same records,
line numbers and quarantine, on every shape of CSV a log export has; where polars cannot be
trusted the file goes to the csv module."""

from __future__ import annotations

import pytest

from curate.core.project import Project
from curate.core.workspace import Workspace
from curate.ingest.formats import table
from curate.ingest.stage import ingest_logs
from tests.conftest import quarantine, records

MAP = {"input": "question", "output": "answer", "reference": "label", "id": "qid"}
HEAD = b"qid,question,answer,label,team\n"

# (name, the file's bytes, whether polars reads it: every row well formed, nothing it reads
# differently from the csv module)
CASES = [
    ("plain", HEAD + b"1,hi,a,b,x\n2,yo,c,d,y\n", True),
    ("quoted", HEAD + b'1,"hi, there","a ""b""",b,x\n2,"two\nlines",c,,y\n3,x,y,z,w\n', True),
    ("crlf", HEAD.replace(b"\n", b"\r\n") + b'1,"a\r\nb",c,d,e\r\n2,x,y,z,w\r\n', True),
    ("bom, no final line break", b"\xef\xbb\xbf" + HEAD + b"1,hi,a,b,x\n2,yo,c,d,y", True),
    ("empty values", HEAD + b'1,hi,,"",x\n2,yo,"",d,\n', True),
    ("bad utf-8", HEAD + b"1,caf\xe9,a,b,x\n2,\xff\xfe,c,d,y\n", True),
    ("quotes inside a value", HEAD + b'1,he said "hi",a,b,x\n2, "spaced",c,d,y\n', True),
    ("unicode", HEAD + "1,Zoë O’Brien 名前,a,b,x\n".encode(), True),
    ("header only", HEAD, True),
    ("empty input", HEAD + b"1,,a,b,x\n2,q,c,d,y\n", True),
    ("repeated header names", b"qid,question,answer,label,label\n1,q,a,b,c\n", True),
    ("too few fields", HEAD + b"1,hi,a,b,x\n2,yo,c\n3,ok,e,f,g\n", False),
    ("too many fields", HEAD + b"1,hi,a,b,x,extra\n2,yo,c,d,y\n", False),
    ("too few, hidden by a quoted comma", HEAD + b'1,"a,b",c,d\n2,x,y,z,w\n', False),
    ("a blank line", HEAD + b"1,hi,a,b,x\n\n2,yo,c,d,y\n", False),
    ("a NUL byte", HEAD + b"1,h\x00i,a,b,x\n", False),
    ("a bare carriage return", HEAD + b"1,hi,a,b,x\r2,yo,c,d,y\n", False),
    ("an unclosed quote", HEAD + b'1,"hi,a,b,x\n2,yo,c,d,y\n', False),
    ("text after a closing quote", HEAD + b'1,"hi"there,a,b,x\n', False),
    ("a header over two lines", b'qid,"ques\ntion",answer,label,team\n1,q,a,b,x\n', False),
]


def _ingest(root, path, monkeypatch, fast: bool):
    calls = []
    real = table.polars_rows

    def spy(*args):
        got = real(*args) if fast else None
        calls.append(got is not None)
        return got

    monkeypatch.setattr(table, "polars_rows", spy)
    ws = Workspace(root / ".curate")
    field_map = dict(MAP, input="ques\ntion") if b'"ques\ntion"' in path.read_bytes() else MAP
    result = ingest_logs(Project(ws), [path], field_map=field_map)
    got = (
        records(ws).drop("ingested_at", strict=False).sort("source_line"),
        quarantine(ws).drop("quarantined_at"),
        {k: v for k, v in result.to_dict().items() if k != "sources"},
        [{k: v for k, v in vars(s).items()} for s in result.sources],
    )
    return got, calls


@pytest.mark.parametrize(("name", "data", "read_by_polars"), CASES, ids=[c[0] for c in CASES])
def test_polars_reads_a_csv_as_the_csv_module_does(
    tmp_path, monkeypatch, name, data, read_by_polars
):
    path = tmp_path / ("t.tsv" if "\t" in name else "t.csv")
    path.write_bytes(data)
    fast, calls = _ingest(tmp_path / "fast", path, monkeypatch, fast=True)
    assert calls in ([read_by_polars], [])  # [] : no header to read at all
    slow, _ = _ingest(tmp_path / "slow", path, monkeypatch, fast=False)
    assert fast[0].equals(slow[0]), f"{name}: records differ"
    assert fast[1].equals(slow[1]), f"{name}: quarantine differs"
    assert fast[2:] == slow[2:]


def test_lines_are_numbered_over_quoted_line_breaks(tmp_path, workspace):
    path = tmp_path / "t.csv"
    path.write_bytes(HEAD + b'1,"a\nb\nc",x,y,z\n2,q,x,y,z\n3,"r\n",x,y,z\n4,s,x,y,z\n')
    ingest_logs(Project(workspace), [path], field_map=MAP)
    got = records(workspace).sort("source_line")
    assert got["source_line"].to_list() == [2, 5, 6, 8]
    assert got["source_id"].to_list() == ["1", "2", "3", "4"]


def test_a_tsv_is_read_by_polars_too(tmp_path, monkeypatch):
    path = tmp_path / "t.tsv"
    path.write_bytes(b'qid\tquestion\tanswer\tlabel\n1\thi, you\ta\tb\n2\t"q\tx"\tc\td\n')
    fast, calls = _ingest(tmp_path / "fast", path, monkeypatch, fast=True)
    slow, _ = _ingest(tmp_path / "slow", path, monkeypatch, fast=False)
    assert calls == [True] and fast[0].equals(slow[0]) and fast[0].height == 2
