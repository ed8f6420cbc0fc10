"""Source.iter_chunks: whole lines in every chunk, nothing lost or doubled, plain or gzip."""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from curate.formats.base import GZIP_MAGIC, Source

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
