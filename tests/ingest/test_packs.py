"""Small files read in packs (curate/ingest/packs.py) give exactly what each file read alone
gives: records, quarantine rows, manifest entries and counts."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from curate.core.errors import InputError
from curate.core.project import Project
from curate.core.workspace import Workspace
from curate.ingest import packs
from curate.ingest.formats.openai_chat import OpenAIChat
from curate.ingest.stage import ingest_logs
from tests.conftest import chat_line, quarantine, records, write_jsonl


def chunk(cid: str, **delta) -> dict:
    finish = delta.pop("finish", None)
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def hostile_files(root: Path) -> list[Path]:
    """Small files of every kind a folder of logs holds, with a big and a foreign one among
    them (each ends a pack), and a stream whose chunks share an id across two files."""
    root.mkdir()
    big = [chat_line(i, system="x" * 3000) for i in range(500, 900)]  # over 1 MB: streamed
    files = [
        write_jsonl(root / "a.jsonl", [chat_line(1), "not json {", chat_line(2), "   "]),
        write_jsonl(root / "b.jsonl", [chat_line(2), chat_line(3), chat_line(3)]),  # duplicates
        write_jsonl(root / "c.jsonl.gz", [chat_line(4), "[1, 2]", chat_line(5)], compress=True),
        write_jsonl(root / "d.jsonl", [chat_line(14), ""]),  # a blank last line
        root / "e.json",  # one JSON array: its elements are lines
        root / "f.jsonl",  # no line break at the end, CRLF inside
        write_jsonl(root / "g.jsonl", [chunk("s1", role="assistant", content="Hel")]),
        write_jsonl(root / "h.jsonl", [chunk("s1", content="lo"), chunk("s1", finish="stop")]),
        write_jsonl(root / "i.jsonl", [chat_line(6, content=None, finish="length")] * 2),
        write_jsonl(root / "j.jsonl", big),
        write_jsonl(root / "k.jsonl", [chat_line(7), {"id": 3, "choices": "odd"}]),
        root / "l.jsonl",  # another format: Batch API output
        write_jsonl(root / "m.jsonl", [chat_line(8), "x" * 5000, chat_line(9)]),  # junk
    ]
    files[4].write_text(json.dumps([chat_line(10), chat_line(11)]))
    files[5].write_bytes((json.dumps(chat_line(12)) + "\r\n" + json.dumps(chat_line(13))).encode())
    batch = Path(__file__).parents[2] / "sample_data" / "ticket_batch_output.jsonl"
    files[11].write_text("".join(batch.read_text().splitlines(keepends=True)[:5]))
    return files


def ingest_all(root: Path, files: list[Path], *, packed: bool, monkeypatch) -> Workspace:
    monkeypatch.setattr(OpenAIChat, "packable", packed)
    ws = Workspace(root / ".curate")
    result = ingest_logs(Project(ws), files)
    ws.result = result  # type: ignore[attr-defined]
    return ws


def comparable(ws: Workspace) -> tuple:
    entries = [
        {k: v for k, v in e.items() if k not in ("ingested_at", "commit")}
        for e in ws.manifest()["sources"]
    ]
    result = ws.result.to_dict()  # type: ignore[attr-defined]
    return (
        records(ws).drop("ingested_at", strict=False),
        quarantine(ws).drop("quarantined_at"),
        entries,
        result,
    )


def test_packed_files_read_as_each_alone(tmp_path, monkeypatch):
    files = hostile_files(tmp_path / "logs")
    alone = comparable(ingest_all(tmp_path / "alone", files, packed=False, monkeypatch=monkeypatch))
    packed = comparable(
        ingest_all(tmp_path / "packed", files, packed=True, monkeypatch=monkeypatch)
    )
    assert (alone[0].height, alone[1].height) == (420, 4)  # the files hold what they should
    assert alone[0].equals(packed[0]), "records differ"
    assert alone[1].equals(packed[1]), "quarantine differs"
    assert alone[2] == packed[2]
    assert alone[3] == packed[3]
    # a stream's chunks are assembled within their file: g.jsonl's half is a record, and
    # h.jsonl's half (the same completion id) a duplicate of it, not one record of both
    by_source = dict(packed[0].group_by("source").len().iter_rows())
    assert by_source["g.jsonl"] == 1 and "h.jsonl" not in by_source
    assert packed[0].filter(pl.col("source") == "g.jsonl")["output"].to_list() == ["Hel"]
    assert [e["duplicates"] for e in packed[2] if e["path"].endswith("h.jsonl")] == [1]
    assert {e["path"].rsplit("/", 1)[1] for e in packed[2]} == {f.name for f in files}


def test_a_pack_is_one_decode(tmp_path, monkeypatch):
    files = [
        write_jsonl(tmp_path / f"{i:03d}.jsonl", [chat_line(i), chat_line(i + 1000)])
        for i in range(300)
    ]
    decodes = []
    real = packs.Pack.read

    def counting(self, ctx, task):
        decodes.append(len(self.sources))
        return real(self, ctx, task)

    monkeypatch.setattr(packs.Pack, "read", counting)
    result = ingest_logs(Project(Workspace(tmp_path / ".curate")), files)
    assert decodes == [300]
    assert result.ingested == 600 and len(result.sources) == 300
    assert records(Workspace(tmp_path / ".curate"))["source_line"].unique().to_list() == [1, 2]


def test_the_files_before_an_unreadable_one_are_kept(tmp_path, workspace):
    good = [write_jsonl(tmp_path / f"{i}.jsonl", [chat_line(i)]) for i in range(3)]
    # over a megabyte inflated, so its sample (the format) reads and the read past it fails
    cut = write_jsonl(tmp_path / "cut.jsonl.gz", [chat_line(i) for i in range(4000)], True)
    cut.write_bytes(cut.read_bytes()[:-20])
    after = write_jsonl(tmp_path / "after.jsonl", [chat_line(10)])
    with pytest.raises(InputError, match=r"(?s)cut.jsonl.gz.*3 file\(s\) before it were ingested"):
        ingest_logs(Project(workspace), [*good, cut, after])
    assert sorted(records(workspace)["source"].to_list()) == ["0.jsonl", "1.jsonl", "2.jsonl"]


def test_pack_splits_on_file_count(tmp_path, monkeypatch):
    monkeypatch.setattr(packs, "PACK_MAX_FILES", 4)
    files = [write_jsonl(tmp_path / f"{i}.jsonl", [chat_line(i)]) for i in range(10)]
    result = ingest_logs(Project(Workspace(tmp_path / ".curate")), files)
    got = records(Workspace(tmp_path / ".curate"))
    assert result.ingested == 10
    assert got.sort("source")["source"].to_list() == sorted(f.name for f in files)
    assert pl.Series(got["source_line"]).unique().to_list() == [1]
