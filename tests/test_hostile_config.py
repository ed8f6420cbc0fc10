"""Hostile curate.toml values: every numeric key of the config schema, given values a hostile or
careless user writes, loads or is refused with a message naming the key, never a traceback; the
extremes it accepts work at run time; the documented `workspace` key is obeyed."""

from __future__ import annotations

import gzip
import json

import pytest

from curate.cli import main
from curate.core.config import load_config, load_schema
from curate.core.errors import ConfigError
from tests.conftest import chat_line

HOSTILE = [-1, 0, 1e-7, 0.5, 1e308, 2**63 - 1, -(2**63), "abc", True, [], {}]


def _numeric_keys(node: dict, path: tuple[str, ...] = ()):
    """(path, schema) of every number or integer key of the config schema."""
    kind = node.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if {"number", "integer"} & set(kinds):
        yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _numeric_keys(sub, (*path, name))


KEYS = list(_numeric_keys(load_schema("config")))


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[]"
    if isinstance(value, dict):
        return "{}"
    return repr(value)


def _required(section: tuple[str, ...]) -> str:
    """The keys a section requires besides the one under test, as TOML lines."""
    node = load_schema("config")
    for name in section:
        node = node["properties"][name]
    return "".join(f'{key} = "http://127.0.0.1:9/v1"\n' for key in node.get("required", []))


def _write(tmp_path, path: tuple[str, ...], value) -> object:
    section, key = ".".join(path[:-1]), path[-1]
    line = f"{key} = {_toml_value(value)}\n"
    text = f"[{section}]\n{_required(path[:1])}{line}" if section else line
    if len(path) > 2:  # a table inside a section: the section's required keys first
        text = f"[{path[0]}]\n{_required(path[:1])}[{section}]\n{line}"
    config = tmp_path / "curate.toml"
    config.write_text(text)
    return config


def test_the_schema_has_numeric_keys_to_check():
    names = {".".join(p) for p, _ in KEYS}
    assert {"ingest.chunk_mb", "judge.timeout_s", "report.plateau_margin", "run.seed"} <= names


@pytest.mark.parametrize(("path", "schema"), KEYS, ids=[".".join(p) for p, _ in KEYS])
def test_every_numeric_key_is_bounded_and_named(tmp_path, path, schema):
    assert "maximum" in schema or "exclusiveMaximum" in schema, "no upper bound"
    for value in HOSTILE:
        config = _write(tmp_path, path, value)
        try:
            load_config(config)
        except ConfigError as exc:
            assert ".".join(path) in str(exc), (value, str(exc))
            continue
        # what loads is within the schema's bounds
        assert not isinstance(value, str | bool | list | dict)
        assert schema.get("minimum", -float("inf")) <= value <= schema.get("maximum", float("inf"))


def test_a_config_that_is_not_utf8_is_named(tmp_path):
    config = tmp_path / "curate.toml"
    config.write_bytes("[report]\ntarget = 5\n".encode("utf-16"))
    with pytest.raises(ConfigError, match=r"curate\.toml.*UTF-8"):
        load_config(config)


@pytest.mark.parametrize("chunk_mb", [0.001, 1024])
def test_the_extremes_chunk_mb_accepts_read_every_row(tmp_path, runner, chunk_mb):
    """Before: 1e-7 was accepted and read 0 of 50 gzip rows with exit 0; 1e308 overflowed."""
    (tmp_path / "curate.toml").write_text(f"[ingest]\nchunk_mb = {chunk_mb}\n")
    lines = [json.dumps(chat_line(i, "billing")) for i in range(50)] + ["not json"]
    (tmp_path / "calls.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    args = ["--config", str(tmp_path / "curate.toml")]
    result = runner.invoke(main, [*args, "ingest", str(tmp_path / "calls.jsonl.gz"), "--json"])
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert (done["ingested"], done["quarantined"]) == (50, 1)


@pytest.mark.parametrize("chunk_mb", ["0.0000001", "1e308", "0"])
def test_chunk_mb_out_of_range_is_refused_with_the_key(tmp_path, runner, chunk_mb):
    (tmp_path / "curate.toml").write_text(f"[ingest]\nchunk_mb = {chunk_mb}\n")
    (tmp_path / "calls.jsonl").write_text(json.dumps(chat_line(1)) + "\n")
    result = runner.invoke(
        main, ["--config", str(tmp_path / "curate.toml"), "ingest", str(tmp_path / "calls.jsonl")]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "ingest.chunk_mb" in result.output


def test_the_workspace_key_of_curate_toml_is_obeyed(tmp_path, runner, monkeypatch):
    """`workspace = "myws"` was documented and ignored: tables went to .curate/."""
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "curate.toml").write_text('workspace = "myws"\n')
    (tmp_path / "calls.jsonl").write_text(json.dumps(chat_line(1)) + "\n")
    assert runner.invoke(main, ["ingest", "calls.jsonl"]).exit_code == 0
    assert (tmp_path / "myws" / "manifest.json").is_file()
    assert not (tmp_path / ".curate").exists()
    status = json.loads(runner.invoke(main, ["status", "--json"]).stdout)
    assert status["workspace"] == str((tmp_path / "myws").resolve()) and status["records"] == 1

    import curate

    project = curate.open(tmp_path)  # the Python API finds the same workspace
    assert project.workspace.root == (tmp_path / "myws").resolve()
    # --workspace still wins
    other = tmp_path / "elsewhere"
    assert runner.invoke(main, ["--workspace", str(other), "ingest", "calls.jsonl"]).exit_code == 0
    assert (other / "manifest.json").is_file()
