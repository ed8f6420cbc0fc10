"""Hostile command-line values and user files: each gets a message naming the option, key or
file, never a traceback; what can be done (a missing report folder, a UTF-16 prompt) is done."""

from __future__ import annotations

import re

import pytest

from curate.cli import main
from curate.core.config import Config
from curate.core.errors import ConfigError, InputError
from curate.core.tasks import load_tasks
from curate.core.text import read_text_file
from tests.conftest import chat_line, write_jsonl


@pytest.fixture
def detected(tmp_path, runner):
    (tmp_path / "curate.toml").write_text(
        '[tasks.t]\nkind = "classification"\nlabels = ["billing", "other"]\n'
    )
    write_jsonl(tmp_path / "calls.jsonl", [chat_line(i, "billing") for i in range(5)])
    args = ["--workspace", str(tmp_path / ".curate"), "--config", str(tmp_path / "curate.toml")]
    assert (
        runner.invoke(
            main, [*args, "ingest", str(tmp_path / "calls.jsonl"), "--task", "t"]
        ).exit_code
        == 0
    )
    assert runner.invoke(main, [*args, "detect"]).exit_code == 0
    return tmp_path, args


def test_a_report_into_a_missing_folder_makes_it(detected, runner):
    root, args = detected
    page = root / "no" / "such" / "dir" / "r.html"
    result = runner.invoke(main, [*args, "report", "--html", str(page)])
    assert result.exit_code == 0, result.output
    assert page.read_text().startswith("<!DOCTYPE html>") or "<html" in page.read_text()


def test_a_report_where_no_file_can_be_written_is_named(detected, runner):
    root, args = detected
    (root / "taken").write_text("a file, not a folder")
    result = runner.invoke(main, [*args, "report", "--html", str(root / "taken" / "r.html")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--html" in result.output and "taken" in result.output


@pytest.mark.parametrize("limit", ["1e20", "100000000000000000000", "0", "-3"])
def test_a_limit_past_reason_is_refused(detected, runner, limit):
    _, args = detected
    result = runner.invoke(main, [*args, "failures", "--limit", limit])
    assert result.exit_code == 2 and "--limit" in result.output
    assert not isinstance(result.exception, OverflowError)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("be short".encode("utf-16"), "be short"),
        ("be short".encode("utf-8-sig"), "be short"),
        ("be short".encode("utf-32"), "be short"),
        ("Zoë".encode(), "Zoë"),
    ],
)
def test_a_prompt_file_in_a_marked_encoding_is_read(tmp_path, data, text):
    path = tmp_path / "prompt.txt"
    path.write_bytes(data)
    assert read_text_file(path, "--system-prompt") == text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("café".encode("latin-1"), "is not UTF-8 text (byte 3"),
        (b"\xff\xfe\x00\xd8", "is not UTF-16-LE text"),
    ],
)
def test_a_prompt_file_in_another_encoding_is_named(tmp_path, data, message):
    path = tmp_path / "prompt.txt"
    path.write_bytes(data)
    with pytest.raises(InputError, match=re.escape(message)):
        read_text_file(path, "--system-prompt")
    with pytest.raises(InputError, match="is a folder"):
        read_text_file(tmp_path, "--system-prompt")


@pytest.mark.parametrize("field", ["[", '"q"', "$"])
def test_a_parse_field_that_is_no_json_path_names_the_key(field):
    spec = {"kind": "classification", "labels": ["a"], "parse": {"mode": "json", "field": field}}
    with pytest.raises(ConfigError, match=r"\[tasks\.t\.parse\] field"):
        load_tasks(Config(data={"tasks": {"t": spec}}))


@pytest.mark.parametrize("kind", ["folder", "latin-1"])
def test_an_output_schema_that_is_no_text_file_names_the_key(tmp_path, kind):
    target = tmp_path / "schema.json"
    if kind == "folder":
        target.mkdir()
    else:
        target.write_bytes('{"description": "café"}'.encode("latin-1"))
    config = Config(
        path=tmp_path / "curate.toml",
        data={"tasks": {"t": {"kind": "extraction", "output_schema": "schema.json"}}},
    )
    with pytest.raises(ConfigError, match=r"\[tasks\.t\] output_schema") as caught:
        load_tasks(config)
    assert str(target) in str(caught.value)


def test_a_glob_through_a_symlink_loop_reads_each_file_once(tmp_path, runner):
    """Before: a link to the folder above made `**` read one file 41 times (41 sources)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    write_jsonl(logs / "a.jsonl", [chat_line(i, "billing") for i in range(3)])
    (logs / "loop").symlink_to(tmp_path)
    (logs / "same.jsonl").symlink_to(logs / "a.jsonl")
    args = ["--workspace", str(tmp_path / "ws")]
    result = runner.invoke(main, [*args, "ingest", str(logs / "**" / "*.jsonl"), "--json"])
    assert result.exit_code == 0, result.output
    done = json_of(result)
    assert len(done["sources"]) == 1 and done["ingested"] == 3


def test_a_named_pipe_is_refused_not_waited_on(tmp_path, runner):
    import os

    pipe = tmp_path / "pipe.jsonl"
    os.mkfifo(pipe)
    result = runner.invoke(main, ["--workspace", str(tmp_path / "ws"), "ingest", str(pipe)])
    assert result.exit_code == 3 and "not a regular file" in result.output


def json_of(result) -> dict:
    import json

    return json.loads(result.stdout)
