"""Source.iter_chunks: whole lines in every chunk, nothing lost or doubled, plain or gzip."""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from curate.ingest.formats.source import GZIP_MAGIC, LongLine, Source

LINES = st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")), max_size=60)


@settings(max_examples=150, deadline=None)
@given(lines=LINES, chunk=st.integers(1, 2000), end_newline=st.booleans(), gz=st.booleans())
def test_chunks_are_whole_lines_of_the_file(lines, chunk, end_newline, gz):
    content = b"\n".join(lines) + (b"\n" if end_newline and lines else b"")
    assume(gz or not content.startswith(GZIP_MAGIC))  # gzip's magic means gzip, by design
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("log.jsonl.gz" if gz else "log.jsonl")
        path.write_bytes(gzip.compress(content) if gz else content)
        source = Source(path)
        chunks = list(source.iter_chunks(chunk))
        assert all(c.endswith(b"\n") for c in chunks)
        if not gz:  # a plain file's chunk past the size is one long line (gzip's carry a rest)
            assert all(c.count(b"\n") == 1 for c in chunks if len(c) > chunk + 1)
        joined = b"".join(chunks)
        assert joined == (content if content.endswith(b"\n") or not content else content + b"\n")
        assert source.sha256 == hashlib.sha256(content).hexdigest()  # of the file's content


@settings(max_examples=150, deadline=None)
@given(
    lines=LINES,
    chunk=st.integers(1, 700),
    limit=st.integers(1, 400),
    end_newline=st.booleans(),
    gz=st.booleans(),
)
def test_lines_over_the_limit_become_notices(lines, chunk, limit, end_newline, gz):
    """Every line over the limit (and over a chunk) is replaced by one notice line giving its
    length, in its place (so numbering holds); every other line comes whole; the sha256 is of
    the file."""
    content = b"\n".join(lines) + (b"\n" if end_newline and lines else b"")
    assume(gz or not content.startswith(GZIP_MAGIC))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("log.jsonl.gz" if gz else "log.jsonl")
        path.write_bytes(gzip.compress(content) if gz else content)
        source = Source(path)
        got = b"".join(source.iter_chunks(chunk, limit)).split(b"\n")[:-1]
        want = content.split(b"\n")
        if content.endswith(b"\n") or not content:
            want = want[:-1]
        assert len(got) == len(want)
        for line, original in zip(got, want, strict=True):
            if len(original) > max(limit, chunk):  # a line within a chunk is read as usual
                assert line == LongLine(len(original), max(limit, chunk)).notice().rstrip(b"\n")
            else:
                assert line == original
        assert source.sha256 == hashlib.sha256(content).hexdigest()


def test_a_gzip_that_expands_to_one_huge_line_is_quarantined_with_its_length(tmp_path):
    """Before: a gzip of one 1 GiB line was held whole (past 4 GB of memory)."""
    import json
    import resource
    import zlib

    from curate.core.config import Config
    from curate.core.project import Project
    from curate.core.workspace import Workspace
    from curate.ingest.stage import ingest_logs
    from tests.conftest import chat_line

    good = [json.dumps(chat_line(i, "billing")).encode() for i in range(3)]
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    parts = [packer.compress(good[0] + b"\n"), packer.compress(b'{"x": "')]
    parts += [packer.compress(bytes(1 << 20)) for _ in range(1024)]  # a 1 GiB line
    parts += [packer.compress(b'"}\n' + b"\n".join(good[1:]) + b"\n"), packer.flush()]
    path = tmp_path / "calls.jsonl.gz"
    path.write_bytes(b"".join(parts))
    project = Project(
        Workspace(tmp_path / ".curate"), Config(data={"ingest": {"max_line_mb": 16, "chunk_mb": 4}})
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = ingest_logs(project, [path])
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KB
    assert (result.ingested, result.quarantined) == (3, 1)
    (row,) = project.workspace.scan("quarantine").collect().to_dicts()
    assert row["line"] == 2
    assert f"a line of {(1 << 30) + 9:,} bytes, over the limit of {16 << 20:,}" in row["raw"]
    assert grown < 1024 * 1024, f"peak memory grew by {grown / 1024:.0f} MB"
