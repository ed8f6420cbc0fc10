from __future__ import annotations

import json

import pytest

from curate.core.config import Config
from curate.core.errors import ConfigError, InputError, UnknownFormat
from curate.core.project import Project
from curate.ingest import packs
from curate.ingest import reading as ingest_module
from curate.ingest.stage import ingest_logs
from tests.conftest import chat_line, quarantine, records, write_jsonl


def test_reingest_adds_nothing_and_says_so(tmp_path, workspace):
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1), "oops", chat_line(2)])
    first = ingest_logs(Project(workspace), [path])
    again = ingest_logs(Project(workspace), [path])
    assert (first.ingested, first.duplicates, first.quarantined) == (2, 0, 1)
    assert (again.ingested, again.duplicates) == (0, 2)
    assert records(workspace).height == 2
    assert quarantine(workspace).height == 1  # the bad line is kept once, not twice
    sources = workspace.manifest()["sources"]
    assert len(sources) == 2 and sources[0]["sha256"] == sources[1]["sha256"]


def test_duplicates_within_one_file_are_counted(tmp_path, workspace):
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1), chat_line(1), chat_line(2)])
    result = ingest_logs(Project(workspace), [path])
    assert (result.ingested, result.duplicates) == (2, 1)


def test_gzip_is_read_like_plain(tmp_path, workspace):
    plain = write_jsonl(tmp_path / "a.jsonl", [chat_line(1)])
    packed = write_jsonl(tmp_path / "b.jsonl.gz", [chat_line(1), chat_line(2)], compress=True)
    ingest_logs(Project(workspace), [plain])
    result = ingest_logs(Project(workspace), [packed])
    assert (result.ingested, result.duplicates) == (1, 1)
    assert records(workspace)["source"].to_list() == ["a.jsonl", "b.jsonl"]


def test_small_chunks_keep_line_numbers(tmp_path, workspace):
    rows = [chat_line(i) for i in range(50)]
    rows[33] = "broken"
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    config = Config(data={"ingest": {"chunk_mb": 0.002}})  # ~2 KB chunks: many chunk boundaries
    result = ingest_logs(Project(workspace, config), [path])
    assert result.ingested == 49 and quarantine(workspace)["line"].to_list() == [34]
    got = records(workspace)
    assert got["source_line"].to_list() == [i + 1 for i in range(50) if i != 33]
    assert got["source_id"].to_list() == [f"chatcmpl-{i}" for i in range(50) if i != 33]


def test_record_ids_are_stable_across_workspaces(tmp_path, workspace):
    from curate.core.workspace import Workspace

    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1), {"request": {}, "error": "boom"}])
    other = Workspace(tmp_path / "other")
    ingest_logs(Project(workspace), [path])
    ingest_logs(Project(other), [path])
    assert records(workspace)["record_id"].to_list() == records(other)["record_id"].to_list()


def test_unknown_format_lists_what_was_tried(tmp_path, workspace):
    path = write_jsonl(tmp_path / "x.jsonl", [{"question": "q", "answer": "a"}])
    with pytest.raises(UnknownFormat) as err:
        ingest_logs(Project(workspace), [path])
    message = str(err.value)
    assert "x.jsonl" in message and "openai_chat:" in message and "langfuse:" in message
    assert "--map input=COLUMN" in message


def test_missing_file_empty_file_and_unknown_names(tmp_path, workspace):
    with pytest.raises(InputError, match=r"nope\.jsonl: no such file"):
        ingest_logs(Project(workspace), [tmp_path / "nope.jsonl"])
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="empty"):
        ingest_logs(Project(workspace), [tmp_path / "empty.jsonl"])
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1)])
    with pytest.raises(InputError, match=r"did you mean 'openai_chat'"):
        ingest_logs(Project(workspace), [path], format_name="openai_chta")
    with pytest.raises(ConfigError, match="unknown task 'matcher'"):
        ingest_logs(Project(workspace), [path], task="matcher")


def test_task_and_references(tmp_path, workspace):
    config = Config(
        data={"tasks": {"em": {"kind": "pair_match", "labels": ["match", "non_match"]}}}
    )
    refs = tmp_path / "refs.jsonl"
    write_jsonl(refs, [{"id": "chatcmpl-1", "reference": "non_match"}])
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1), chat_line(2)])
    ingest_logs(Project(workspace, config), [path], task="em", references=refs)
    got = records(workspace).select("task", "reference").rows()
    assert got == [("em", "non_match"), ("em", None)]


def test_bad_references_file(tmp_path, workspace):
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1)])
    refs = tmp_path / "refs.csv"
    refs.write_text("record,label\n1,x\n")
    with pytest.raises(InputError, match="needs the columns `id` and `reference`"):
        ingest_logs(Project(workspace), [path], references=refs)
    refs.write_text("id,reference\n1,x\n1,y\n")
    with pytest.raises(InputError, match="'1' appears more than once"):
        ingest_logs(Project(workspace), [path], references=refs)


def test_an_interrupted_source_leaves_nothing_behind(tmp_path, workspace, monkeypatch):
    good = write_jsonl(tmp_path / "a.jsonl", [chat_line(1)])
    bad = write_jsonl(tmp_path / "b.jsonl", [chat_line(i) for i in range(2, 40)])
    real_finalize = ingest_module.finalize
    calls = {"n": 0}

    def failing_finalize(df, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # b.jsonl's second chunk: its first chunk was already staged
            raise KeyboardInterrupt
        return real_finalize(df, **kwargs)

    monkeypatch.setattr(ingest_module, "finalize", failing_finalize)
    monkeypatch.setattr(packs, "finalize", failing_finalize)  # a.jsonl is small: packed
    config = Config(data={"ingest": {"chunk_mb": 0.002}})
    with pytest.raises(KeyboardInterrupt):
        ingest_logs(Project(workspace, config), [good, bad])
    assert records(workspace)["source"].unique().to_list() == ["a.jsonl"]
    assert not list(workspace.table_dir("records").glob(".staging-*"))
    monkeypatch.setattr(ingest_module, "finalize", real_finalize)
    monkeypatch.setattr(packs, "finalize", real_finalize)
    result = ingest_logs(Project(workspace), [good, bad])
    assert (result.ingested, result.duplicates) == (38, 1)


def test_manifest_records_sources_and_runs(tmp_path, workspace):
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1)])
    ingest_logs(Project(workspace), [path])
    manifest = json.loads(workspace.manifest_path.read_text())
    source = manifest["sources"][0]
    assert source["format"] == "openai_chat" and source["rows"] == 1 and len(source["sha256"]) == 64
    assert manifest["runs"][0]["stage"] == "ingest"
    assert manifest["runs"][0]["counts"]["ingested"] == 1


def test_a_broken_first_line_does_not_hide_the_format(tmp_path, workspace):
    path = write_jsonl(tmp_path / "c.jsonl", ["DEBUG starting logger", chat_line(1), chat_line(2)])
    result = ingest_logs(Project(workspace), [path])
    assert result.sources[0].format == "openai_chat"
    assert (result.ingested, result.quarantined) == (2, 1)


def test_a_failed_ingest_writes_nothing(tmp_path, workspace):
    requests = write_jsonl(
        tmp_path / "in.jsonl",
        [{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}, "oops"],
    )
    with pytest.raises(InputError, match="output file"):
        ingest_logs(Project(workspace), [requests])
    assert workspace.manifest()["sources"] == []
    assert quarantine(workspace).height == 0


def test_a_kill_between_moves_is_rolled_forward(tmp_path, workspace, monkeypatch):
    """Records, quarantine rows and manifest entry of a source commit as one unit."""
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1), "oops", chat_line(2)])
    import curate.core.workspace as ws_module

    real_replace = ws_module.os.replace
    calls = []

    def dying_replace(src, dst):
        if not str(src).endswith(".tmp"):  # a commit's move, not an atomic file write
            calls.append(src)
        if len(calls) == 2:  # the records part moved, the quarantine part not yet
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(ws_module.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        ingest_logs(Project(workspace), [path])
    monkeypatch.setattr(ws_module.os, "replace", real_replace)
    # the next command that takes the lock finishes the commit
    with workspace.lock("status"):
        pass
    assert records(workspace).height == 2
    assert quarantine(workspace).height == 1
    assert [s["rows"] for s in workspace.manifest()["sources"]] == [2]
    again = ingest_logs(Project(workspace), [path])
    assert (again.ingested, again.duplicates, again.quarantined) == (0, 2, 1)
    assert quarantine(workspace).height == 1


def test_the_same_content_twice_in_one_command_quarantines_once(tmp_path, workspace):
    lines = [chat_line(1), "oops", "{broken"]
    a = write_jsonl(tmp_path / "a.jsonl", lines)
    b = write_jsonl(tmp_path / "b.jsonl", lines)
    result = ingest_logs(Project(workspace), [a, b])
    assert (result.ingested, result.duplicates, result.quarantined) == (1, 1, 4)
    assert quarantine(workspace).height == 2


def test_a_json_array_file_is_read_like_json_lines(tmp_path, workspace):
    path = tmp_path / "calls.json"
    path.write_text(json.dumps([chat_line(1), chat_line(2), "oops", chat_line(3)], indent=2))
    result = ingest_logs(Project(workspace), [path])
    assert (result.ingested, result.quarantined) == (3, 1)
    assert records(workspace)["source_line"].to_list() == [1, 2, 4]
    assert quarantine(workspace)["line"].to_list() == [3]


def test_a_json_array_of_unknown_objects_is_explained(tmp_path, workspace):
    path = tmp_path / "qa.json"
    path.write_text(json.dumps([{"question": "q", "answer": "a"}]))
    with pytest.raises(UnknownFormat, match=r"one JSON array of objects.*question, answer"):
        ingest_logs(Project(workspace), [path])
    result = ingest_logs(
        Project(workspace), [path], field_map={"input": "question", "output": "answer"}
    )
    assert result.ingested == 1
