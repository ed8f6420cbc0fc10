"""A log file as the readers see it: opened (gzip or not), read in blocks that end on a line
break (lines too long to hold read past and counted), hashed as it is read, and sampled for
format detection."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from curate.core.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
# A line of only these is blank (skipped, not a row): JSON's own white space. Any other control
# character is content, and a line of it is quarantined like any unreadable line.
JSON_SPACE = b" \t\r"
SAMPLE_BYTES = 1 << 20  # enough to see a few lines of any log, and whole small documents
MAX_DOCUMENT_BYTES = 512 << 20  # larger single JSON documents must be JSON lines instead
MAX_LINE_BYTES = 64 << 20  # a longer line is quarantined with its length, never held whole


def _first_line_is_json(head: bytes) -> bool:
    first = head.lstrip().split(b"\n", 1)[0]
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return True


def _cut_blocks(
    stream: BinaryIO, chunk_bytes: int, max_line: int | None, hasher: Any
) -> Iterator[bytes]:
    """Blocks of a stream (gzip) that end on a line break, the partial line carried over; the
    last may lack its line break. Every byte read is hashed. A line longer than `max_line` is
    never held: it is read past (LongLine counts it) and a one-line notice stands for it."""
    rest = b""
    long_line: LongLine | None = None
    while block := stream.read(chunk_bytes):
        hasher.update(block)
        if long_line is None and rest and max_line is not None:
            first = block.find(b"\n")  # where the carried line ends, if in this block
            if first >= 0 and len(rest) + first > max_line:
                long_line, rest = LongLine(len(rest), max_line), b""
        if long_line is not None:
            cut = block.find(b"\n")
            if cut < 0:
                long_line.length += len(block)
                continue
            long_line.length += cut
            block, rest = block[cut + 1 :], b""
            yield long_line.notice()
            long_line = None
        block = rest + block
        cut = block.rfind(b"\n") + 1
        rest = block[cut:]
        if cut:
            yield block[:cut]
        if max_line is not None and len(rest) > max_line:
            long_line, rest = LongLine(len(rest), max_line), b""
    if long_line is not None:
        yield long_line.notice()
    elif rest:
        yield rest


def _exact_blocks(
    raw: BinaryIO, chunk_bytes: int, max_line: int | None, hasher: Any
) -> Iterator[bytes]:
    """Blocks of a plain file that end on a line break, each read at its exact size: where a
    block ends is found by looking at the file first, so no block is copied to cut it (at 64 MB
    a block, copies cost more than the reading). The last block may lack its line break. A
    block that runs past `chunk_bytes` is one line (no line break within the chunk); past
    `max_line`, it is not read, and stands as a one-line notice (LongLine)."""
    fd = raw.fileno()
    size = os.fstat(fd).st_size
    start = 0
    while start < size:
        end = min(start + chunk_bytes, size)
        if end < size:
            end = _line_end(fd, start, end, size)
        line = end - start - (os.pread(fd, 1, end - 1) == b"\n")  # if one line: its length
        if max_line is not None and line > max(max_line, chunk_bytes):
            for offset in range(start, end, 1 << 20):  # hashed a megabyte at a time, not held
                hasher.update(os.pread(fd, min(1 << 20, end - offset), offset))
            yield LongLine(line, max_line).notice()
            start = end
            continue
        raw.seek(start)
        block = raw.read(end - start)
        if not block:
            return  # the file shrank while being read
        hasher.update(block)
        yield block
        start += len(block)


@dataclass
class LongLine:
    """A line over the line limit: its length, and the notice that stands for it."""

    length: int
    limit: int

    def notice(self) -> bytes:
        return (
            f"curate: not read: a line of {self.length:,} bytes, over the limit of "
            f"{self.limit:,} ([ingest] max_line_mb)\n"
        ).encode()


def _line_end(fd: int, start: int, end: int, size: int) -> int:
    """The offset just after the last line break before `end` (after `start`), or, when a line
    runs past `end`, just after its own line break (or the end of the file)."""
    window = min(1 << 20, end - start)
    tail = os.pread(fd, window, end - window)
    cut = tail.rfind(b"\n")
    if cut >= 0:
        return end - window + cut + 1
    if window < end - start:  # no line break in the window: search the rest of the block
        head = os.pread(fd, end - window - start, start)
        cut = head.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
    while end < size:  # one line longer than a block: it is the block
        ahead = os.pread(fd, 1 << 20, end)
        cut = ahead.find(b"\n")
        if cut >= 0:
            return end + cut + 1
        end += len(ahead)
    return size


class Source:
    """An input file, gzip or not, read once; its sha256 is of the decompressed content."""

    def __init__(
        self,
        path: str | Path,
        progress: Callable[[int], None] | None = None,
        *,
        url: str | None = None,
        display: str | None = None,
        name: str | None = None,
        items: list[str] | None = None,
    ):
        """`url`: where a local copy came from (s3://...): named so in messages and the
        manifest. `display`: the name in messages (default: the URL, else the path given).
        `name`: the records' `source` (default: the file's name). `items`: what each line is in
        the store it came from (`span 1a2b...` for a page of `curate pull`), for quarantine."""
        self.path = Path(path)
        self.url = url
        self.display = display or url or str(path)
        self.label = name
        self.items = items
        if not self.path.exists():
            raise InputError(f"{self.display}: no such file. Check the path (and the folder).")
        if self.path.is_dir():
            raise InputError(f"{self.display}: is a folder; give the log files inside it.")
        if not self.path.is_file():  # a named pipe, a socket, a device: read once, never again
            raise InputError(
                f"{self.display}: is not a regular file (a named pipe or a device); curate reads "
                "a file several times (its format, its content, its checksum): write it to a "
                "file first"
            )
        try:
            with open(self.path, "rb") as fh:
                self.gzipped = fh.read(2) == GZIP_MAGIC
        except OSError as exc:
            raise InputError(f"{self.display}: cannot be read ({exc.strerror}).") from None
        self.size = self.path.stat().st_size
        self._progress = progress or (lambda n: None)
        self._sha256: str | None = None
        self._sample: Sample | None = None

    @property
    def location(self) -> str:
        """What the manifest records: the URL, or the absolute path of a local file."""
        return self.url or str(self.path.resolve())

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        name = self.path.name
        return name[:-3] if name.endswith(".gz") else name

    @contextlib.contextmanager
    def _open(self) -> Iterator[tuple[BinaryIO, BinaryIO]]:
        raw = open(self.path, "rb")  # noqa: SIM115 - closed below, and read by position
        try:
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if self.gzipped else raw  # type: ignore[assignment]
            yield stream, raw
        finally:
            raw.close()

    def iter_chunks(self, chunk_bytes: int, max_line: int | None = None) -> Iterator[bytes]:
        """The content in chunks of about `chunk_bytes` that end on a line break.

        Hashes what it reads and reports progress in bytes of the file on disk. With
        `max_line`, a line longer than it and than a chunk is not held in memory: a one-line
        notice with its length stands in its place (a line reader quarantines it, numbered as
        the line it replaces).
        """
        done = 0
        hasher = hashlib.sha256()  # each full read hashes afresh
        try:
            with self._open() as (stream, raw):
                plain = stream is raw and stat.S_ISREG(os.fstat(raw.fileno()).st_mode)
                split = _exact_blocks if plain else _cut_blocks
                # a line within one chunk is read as usual: the chunk is in memory anyway
                limit = None if max_line is None else max(max_line, chunk_bytes)
                for block in split(stream, chunk_bytes, limit, hasher):
                    position = raw.tell()
                    self._progress(position - done)
                    done = position
                    yield block if block.endswith(b"\n") else block + b"\n"
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputError(
                f"{self.display}: cannot be read past byte {done} ({exc}). "
                "If it is gzip, the archive may be cut short: copy it again."
            ) from None
        self._progress(self.size - done)
        self._sha256 = hasher.hexdigest()

    def read_all(self) -> bytes:
        """The whole (decompressed) content; for formats that are one document."""
        return b"".join(self.iter_chunks(1 << 24))

    def part(self, line: int) -> int:
        """Which file holds line `line`: always this one (a pack of files says which of them,
        curate/ingest/packs.py)."""
        return 0

    @property
    def is_json_array(self) -> bool:
        """The file is one JSON array (`[{...}, {...}]`) rather than JSON lines."""
        return isinstance(self.sample().document, list)

    def iter_line_chunks(
        self, chunk_bytes: int, max_line: int | None = MAX_LINE_BYTES
    ) -> Iterator[bytes]:
        """Like iter_chunks, but a file that is one JSON array reads as JSON lines: one line per
        element, numbered by its position in the array. Line-oriented readers use this."""
        if not self.is_json_array:
            yield from self.iter_chunks(chunk_bytes, max_line)
            return
        items = orjson.loads(self.read_all())
        lines: list[bytes] = []
        size = 0
        for item in items:
            lines.append(orjson.dumps(item))
            size += len(lines[-1]) + 1
            if size >= chunk_bytes:
                yield b"\n".join(lines) + b"\n"
                lines, size = [], 0
        if lines:
            yield b"\n".join(lines) + b"\n"

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            for _ in self.iter_chunks(1 << 24):
                pass
        assert self._sha256 is not None
        return self._sha256

    def sample(self) -> Sample:
        """The file's first megabyte, parsed as far as it goes, for format detection."""
        if self._sample is None:
            try:
                with self._open() as (stream, _):
                    head = stream.read(SAMPLE_BYTES + 1)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise InputError(f"{self.display}: cannot be read ({exc}).") from None
            complete = len(head) <= SAMPLE_BYTES
            looks_like_document = head.lstrip()[:1] in (b"{", b"[")
            if not complete and looks_like_document and not _first_line_is_json(head):
                # one large JSON document (a pretty-printed export): it must be parsed whole
                if self.size > MAX_DOCUMENT_BYTES:
                    raise InputError(
                        f"{self.display}: one JSON document of {self.size / 1e6:,.0f} MB; curate "
                        f"reads single documents up to {MAX_DOCUMENT_BYTES / 1e6:,.0f} MB. Convert "
                        "it to JSON lines (one record per line), e.g. with jq -c '.[]'."
                    )
                head, complete = self.read_all(), True
            self._sample = Sample.of(head if complete else head[:SAMPLE_BYTES], complete=complete)
        return self._sample


@dataclass
class Sample:
    """The head of a file: raw text, JSON lines parsed from it, or the whole JSON document."""

    head: bytes
    complete: bool
    lines: list[Any] = field(default_factory=list)  # parsed objects of the first lines
    document: Any = None  # the parsed document when the file is one JSON value

    @classmethod
    def of(cls, head: bytes, complete: bool) -> Sample:
        sample = cls(head=head, complete=complete)
        if complete and head.lstrip()[:1] in (b"{", b"["):
            with contextlib.suppress(orjson.JSONDecodeError):
                sample.document = orjson.loads(head)
        if isinstance(sample.document, list):
            # a JSON array reads as JSON lines, one per element (Source.iter_line_chunks)
            sample.lines = sample.document[:5]
            return sample
        # A broken first line (or a stray log line) must not hide the format of the rest.
        for line in head.splitlines()[:50]:
            if not line.strip():
                continue
            with contextlib.suppress(orjson.JSONDecodeError):
                sample.lines.append(orjson.loads(line))
            if len(sample.lines) >= 5:
                break
        return sample

    @property
    def objects(self) -> list[dict[str, Any]]:
        """The first JSON objects of the file, whether it is JSON lines or one document."""
        one_document = self.document is not None and len(self.lines) == 1
        if self.lines and all(isinstance(o, dict) for o in self.lines) and not one_document:
            return self.lines
        doc = self.document
        if isinstance(doc, dict):
            return [doc]
        if isinstance(doc, list):
            return [o for o in doc[:5] if isinstance(o, dict)]
        return [o for o in self.lines if isinstance(o, dict)]
