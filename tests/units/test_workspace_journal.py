"""The workspace's journal and lock on a temporary folder: a commit moves every file and adds
its sources once, an interrupted one is finished by the next lock, and a held lock says who
holds it."""

from __future__ import annotations

import json

import filelock
import pytest

from curate.core.errors import WorkspaceError, WorkspaceLocked
from curate.core.workspace import ENV_LOCK_TIMEOUT, Workspace, lock_timeout


@pytest.fixture
def ws(tmp_path) -> Workspace:
    workspace = Workspace(tmp_path / ".curate")
    workspace.create()
    return workspace


def _staged(ws: Workspace, name: str, text: str):
    path = ws.root / f".{name}.staged"
    path.write_text(text)
    return path


def test_a_commit_moves_its_files_and_adds_its_sources(ws):
    dst_a, dst_b = ws.root / "t1" / "part-1", ws.root / "t2" / "deep" / "part-1"
    with ws.lock("ingest"):  # a stage stages and commits under its lock
        a, b = _staged(ws, "a", "A"), _staged(ws, "b", "B")
        ws.commit([(a, dst_a), (b, dst_b)], [{"path": "logs.jsonl", "records": 3}])
    assert dst_a.read_text() == "A" and dst_b.read_text() == "B"
    assert not a.exists() and not b.exists()
    sources = ws.manifest()["sources"]
    assert len(sources) == 1 and sources[0]["path"] == "logs.jsonl"
    assert sources[0]["records"] == 3 and len(sources[0]["commit"]) == 32
    assert list(ws.journal_dir.glob("*.json")) == []  # the journal is gone once done
    assert not (ws.root / "lock.info").exists()


def test_a_commit_without_sources_leaves_the_manifest(ws):
    before = ws.manifest_path.read_bytes()
    with ws.lock("detect"):
        ws.commit([(_staged(ws, "a", "A"), ws.root / "t" / "p")], [])
    assert ws.manifest_path.read_bytes() == before and (ws.root / "t" / "p").exists()


def test_what_a_killed_stage_staged_is_removed_by_the_next_lock(ws):
    staged = _staged(ws, "table.parquet.0a1b2c3d", "half")
    with ws.lock("detect"):
        assert not staged.exists()


def _journal(ws: Workspace, entry: dict, name: str = "0001") -> None:
    ws.journal_dir.mkdir(exist_ok=True)
    (ws.journal_dir / f"{name}.json").write_text(json.dumps(entry))


def test_recover_finishes_an_interrupted_commit_once(ws):
    src = _staged(ws, "a", "A")
    dst = ws.root / "t" / "part"
    entry = {"id": "c1", "moves": [[str(src), str(dst)]], "sources": [{"path": "x"}]}
    _journal(ws, entry)
    orphan = _staged(ws, "orphan", "no commit names me")
    assert ws.recover() == 1
    assert dst.read_text() == "A" and not orphan.exists()
    assert [s["commit"] for s in ws.manifest()["sources"]] == ["c1"]
    # the same commit journalled again (killed after the manifest, before the unlink): no double
    _journal(ws, entry)
    assert ws.recover() == 1
    assert [s["commit"] for s in ws.manifest()["sources"]] == ["c1"]
    assert ws.recover() == 0


def test_recover_drops_a_journal_written_half(ws):
    ws.journal_dir.mkdir(exist_ok=True)
    (ws.journal_dir / "half.json").write_text('{"id": "c2", "moves": [')
    assert ws.recover() == 0
    assert list(ws.journal_dir.glob("*.json")) == []


def test_taking_the_lock_recovers(ws):
    src = _staged(ws, "a", "A")
    _journal(ws, {"id": "c3", "moves": [[str(src), str(ws.root / "t" / "p")]], "sources": []})
    with ws.lock("detect"):
        assert (ws.root / "t" / "p").exists()
        info = json.loads((ws.root / "lock.info").read_text())
        assert info["command"] == "detect" and isinstance(info["pid"], int)
        with ws.lock("inner"):  # nested: free, and the holder stays the outer command
            assert json.loads((ws.root / "lock.info").read_text())["command"] == "detect"
        assert (ws.root / "lock.info").exists()  # the inner release is not the outer's
    assert not (ws.root / "lock.info").exists()


def test_a_held_lock_names_its_holder(ws):
    (ws.root / "lock.info").write_text(
        json.dumps({"pid": 4242, "command": "ingest", "since": "2026-12-02T10:00:00"})
    )
    other = filelock.FileLock(str(ws.root / ".lock"))  # another process's lock, in effect
    other.acquire()
    try:
        with pytest.raises(WorkspaceLocked) as raised, ws.lock("detect", timeout=0.05):
            pass
    finally:
        other.release()
    assert str(raised.value) == (
        f"the workspace {ws.root} is locked by `curate ingest` (pid 4242, since "
        "2026-12-02T10:00:00). Wait for it to finish and run this again (or raise "
        f"{ENV_LOCK_TIMEOUT}, now 0.05 s, to wait longer)."
    )
    (ws.root / "lock.info").write_text("{half")
    other.acquire()
    try:
        with (
            pytest.raises(WorkspaceLocked, match="locked by another curate process"),
            ws.lock("detect", timeout=0),
        ):
            pass
    finally:
        other.release()
    with ws.lock("detect", timeout=0):  # released: taken at once
        pass


@pytest.mark.parametrize(
    ("value", "seconds"), [(None, 10.0), ("", 10.0), ("  ", 10.0), ("0", 0.0), ("2.5", 2.5)]
)
def test_the_lock_timeout_from_the_environment(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv(ENV_LOCK_TIMEOUT, raising=False)
    else:
        monkeypatch.setenv(ENV_LOCK_TIMEOUT, value)
    assert lock_timeout() == seconds


@pytest.mark.parametrize("value", ["-1", "inf", "nan", "ten", "-0.001"])
def test_a_lock_timeout_that_is_no_wait_is_refused(monkeypatch, value):
    monkeypatch.setenv(ENV_LOCK_TIMEOUT, value)
    with pytest.raises(WorkspaceError) as raised:
        lock_timeout()
    assert str(raised.value) == (
        f"{ENV_LOCK_TIMEOUT}={value!r}: give the seconds to wait for the workspace lock, a "
        "number >= 0 (e.g. 30), or unset it for the default of 10"
    )


def test_commits_add_to_the_sources_and_share_folders(ws):
    with ws.lock("ingest"):
        ws.commit([(_staged(ws, "a", "A"), ws.root / "new" / "p1")], [{"path": "one"}])
        ws.commit([(_staged(ws, "b", "B"), ws.root / "new" / "p2")], [{"path": "two"}])
    assert [s["path"] for s in ws.manifest()["sources"]] == ["one", "two"]
    assert (ws.root / "new" / "p1").exists() and (ws.root / "new" / "p2").exists()


def test_the_journal_is_written_whole_under_the_commit_lock(ws, monkeypatch):
    from datetime import UTC, datetime

    import curate.core.workspace as module

    seen = []
    real = module.atomic_write_bytes

    def spy(path, data):
        if path.parent == ws.journal_dir:
            seen.append((json.loads(data), json.loads((ws.root / "lock.info").read_text())))
        real(path, data)

    monkeypatch.setattr(module, "atomic_write_bytes", spy)
    src, dst = ws.root / "incoming.parquet", ws.root / "t" / "p"
    src.write_text("A")
    when = datetime(2026, 12, 2, tzinfo=UTC)
    ws.commit([(src, dst)], [{"path": "x", "read_at": when}])
    ((entry, holder),) = seen
    assert entry["moves"] == [[str(src), str(dst)]]
    assert entry["sources"] == [{"path": "x", "read_at": str(when)}]
    assert holder["command"] == "commit" and dst.read_text() == "A"


def test_recover_goes_past_a_broken_journal(ws):
    ws.journal_dir.mkdir(exist_ok=True)
    (ws.journal_dir / "0000.json").write_text("{broken")
    src = _staged(ws, "a", "A")
    _journal(
        ws, {"id": "c9", "moves": [[str(src), str(ws.root / "t" / "p")]], "sources": []}, "0001"
    )
    assert ws.recover() == 1
    assert (ws.root / "t" / "p").read_text() == "A"
    assert list(ws.journal_dir.glob("*.json")) == []


def test_recover_counts_every_commit_it_finishes(ws):
    for n in range(3):
        src = _staged(ws, f"s{n}", str(n))
        entry = {"id": f"c{n}", "moves": [[str(src), str(ws.root / "t" / f"p{n}")]], "sources": []}
        _journal(ws, entry, f"000{n}")
    assert ws.recover() == 3
