from __future__ import annotations

import json

import pytest

from curate.cli import main
from curate.core.project import Project
from tests.conftest import SAMPLE, chat_line, write_jsonl


def test_init_then_ingest_sample_data_json(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    (tmp_path / "curate.toml").write_text((SAMPLE / "curate.toml").read_text())
    result = runner.invoke(main, ["init", ".", "--json"])
    assert result.exit_code == 0, result.output
    init = json.loads(result.output)
    assert init["config_written"] is False and init["workspace_created"] is True

    args = ["ingest", str(SAMPLE / "entity_match_chat.jsonl.gz"), "--task", "entity_match"]
    args += ["--references", str(SAMPLE / "entity_match_references.csv"), "--json"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["ingested"] == 3000 and counts["quarantined"] == 3 and counts["duplicates"] == 0
    assert counts["by_format"] == {"openai_chat": 3000}
    assert counts["by_task"] == {"entity_match": 3000}
    assert counts["references"]["unmatched"] == 0

    again = json.loads(runner.invoke(main, args).stdout)
    assert (again["ingested"], again["duplicates"]) == (0, 3000)

    batch = [str(SAMPLE / "ticket_batch_output.jsonl"), str(SAMPLE / "ticket_batch_input.jsonl")]
    result = runner.invoke(main, ["ingest", *batch, "--task", "ticket_topic", "--json"])
    assert json.loads(result.stdout)["by_format"] == {"openai_batch": 600}

    status = json.loads(runner.invoke(main, ["status", "--json"]).stdout)
    assert status["records"] == 3600 and status["quarantined"] == 3
    assert status["by_task"] == {"entity_match": 3000, "ticket_topic": 600}

    quarantined = json.loads(runner.invoke(main, ["quarantine", "--json"]).stdout)
    assert quarantined["quarantined"] == 3
    assert [r["line"] for r in quarantined["rows"]] == [138, 1402, 2223]


def test_human_summary_and_idempotence_message(runner, tmp_path):
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1), "junk"])
    ws = ["--workspace", str(tmp_path / "ws")]
    first = runner.invoke(main, [*ws, "ingest", str(path)])
    assert first.exit_code == 0
    assert "1 records added" in first.output and "1 rows quarantined" in first.output
    second = runner.invoke(main, [*ws, "ingest", str(path)])
    assert "nothing new" in second.output


def test_errors_are_messages_with_exit_codes(runner, tmp_path):
    ws = ["--workspace", str(tmp_path / "ws")]
    missing = runner.invoke(main, [*ws, "ingest", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 3 and "nope.jsonl: no such file" in missing.output
    assert "Traceback" not in missing.output

    odd = write_jsonl(tmp_path / "odd.jsonl", [{"q": 1}])
    unknown = runner.invoke(main, [*ws, "ingest", str(odd)])
    assert unknown.exit_code == 3 and "matches no log format" in unknown.output

    bad_map = runner.invoke(main, [*ws, "ingest", str(odd), "--map", "input"])
    assert bad_map.exit_code == 2 and "FIELD=COLUMN" in bad_map.output

    no_ws = runner.invoke(main, ["--workspace", str(tmp_path / "none"), "status"])
    assert no_ws.exit_code == 1 and "curate init" in no_ws.output


def test_workspace_from_environment(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_WORKSPACE", str(tmp_path / "envws"))
    path = write_jsonl(tmp_path / "c.jsonl", [chat_line(1)])
    assert runner.invoke(main, ["ingest", str(path)]).exit_code == 0
    assert (tmp_path / "envws" / "manifest.json").is_file()


def test_formats_and_help(runner):
    formats = json.loads(runner.invoke(main, ["formats", "--json"]).output)["formats"]
    assert {f["name"] for f in formats} >= {"openai_chat", "openai_batch", "langfuse", "otel"}
    help_text = runner.invoke(main, ["ingest", "--help"]).output
    assert "--references" in help_text and "Examples:" in help_text


HOSTILE = [
    "\x1b]0;pwned\x07",  # retitles the terminal window
    "\x1b[31mred\x1b[0m",  # colours
    "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",  # an OSC 8 link
    "\x1b[2J",  # clears the screen
    "\u202eevil",  # right-to-left override
]


def test_logged_escape_sequences_are_never_printed_raw(runner, tmp_path):
    ws = ["--workspace", str(tmp_path / ".curate")]
    lines = [chat_line(i, content=text, system=text) for i, text in enumerate(HOSTILE)]
    lines += [text for text in HOSTILE]  # unreadable lines: quarantined with their raw text
    path = write_jsonl(tmp_path / "hostile\x1b[31m.jsonl", lines)
    config = tmp_path / "curate.toml"
    config.write_text('[tasks.t]\nkind = "classification"\nlabels = ["a", "b"]\n')
    ws += ["--config", str(config)]
    outputs = []
    for args in (
        ["ingest", str(path), "--task", "t"],
        ["detect"],
        ["failures", "--limit", "50"],
        ["quarantine"],
        ["status"],
        ["balance", "--target", "5"],
        ["report"],
        ["ingest", str(tmp_path / "nope\x1b]0;x\x07.jsonl")],  # an error message
    ):
        result = runner.invoke(main, [*ws, *args])
        assert result.exception is None or isinstance(result.exception, SystemExit), args
        outputs.append(result.output)
    shown = "".join(outputs)
    assert "\\x1b" in shown  # the content is shown, as escapes
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in shown


@pytest.mark.parametrize(
    "args",
    [
        ["balance", "--seed", "-3"],
        ["balance", "--seed", str(2**70)],
        ["balance", "--cutoff", "150"],
        ["balance", "--max-per-cluster", "-1"],
        ["balance", "--target", "0"],
        ["balance", "--controls", "1"],
        ["export", "--max-tokens", "-5"],
        ["export", "--seed", "-1"],
        ["export", "--validation-fraction", "-0.1"],
        ["failures", "--limit", "0"],
        ["quarantine", "--limit", "-2"],
    ],
)
def test_out_of_range_options_are_refused_with_the_range(runner, tmp_path, args):
    result = runner.invoke(main, ["--workspace", str(tmp_path / ".curate"), *args])
    assert result.exit_code == 2 and not isinstance(result.exception, OverflowError)
    assert "range" in result.output or ">=" in result.output


def test_the_library_checks_ranges_too(workspace):
    from curate.balance.stage import BalanceSettings, balance_candidates
    from curate.core.config import Config
    from curate.core.errors import ConfigError

    with pytest.raises(ConfigError, match="--seed -3: must be from 0"):
        balance_candidates(Project(workspace, Config()), BalanceSettings(seed=-3))


def test_formats_prints_descriptions_as_written(runner):
    """A description's brackets are text, not terminal markup ("[assistant]" once vanished)."""
    result = runner.invoke(main, ["formats"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    said = " ".join(result.output.split())
    assert "completion: [assistant], label}" in said and "rejected: [assistant], tools}" in said
