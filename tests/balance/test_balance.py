from __future__ import annotations

import json
from collections import Counter

import polars as pl
import pytest

from curate.balance.stage import BalanceSettings, Quota, parse_ratio, select_candidates
from curate.cli import main
from curate.core.errors import ConfigError
from curate.core.project import Project
from tests.conftest import SAMPLE


def _pool(n_match=200, n_non=200, n_controls=100, nicknames=10, cluster_every=1):
    rows = []
    for i in range(n_match + n_non + n_controls):
        control = i >= n_match + n_non
        cls = (
            "match"
            if i < n_match
            else "non_match"
            if i < n_match + n_non
            else ("match" if i % 2 else "non_match")
        )
        edge = "nickname" if i < nicknames else ("partial_date" if i % 7 == 0 else "none")
        failure = "control" if control else ("truncated" if i % 3 == 0 else "reference_mismatch")
        rows.append(
            {
                "record_id": f"r{i:04d}",
                "task": "em",
                "class": cls,
                "failure_type": failure,
                "failure_types": [failure],
                "edge_case": edge,
                "edge_cases": [edge],
                "cluster_id": f"c{i // cluster_every}",
                "is_control": control,
                "stratum": f"{cls} x {failure} x {edge}",
            }
        )
    return pl.DataFrame(rows)


def test_class_ratio_controls_and_determinism():
    pool = _pool()
    settings = BalanceSettings(
        target=100, seed=3, controls=0.2, class_ratio={"match": 0.7, "non_match": 0.3}
    )
    chosen, shortfalls, _ = select_candidates(pool, settings, ["match", "non_match"])
    assert chosen.height == 100 and shortfalls == []
    failures = chosen.filter(~pl.col("is_control"))
    assert Counter(failures["class"]) == {"match": 56, "non_match": 24}
    assert chosen["is_control"].sum() == 20
    again, _, _ = select_candidates(pool, settings, ["match", "non_match"])
    assert again["record_id"].to_list() == chosen["record_id"].to_list()
    other, _, _ = select_candidates(
        pool, BalanceSettings(target=100, seed=4, controls=0.2), ["match", "non_match"]
    )
    assert other["record_id"].to_list() != chosen["record_id"].to_list()


def test_strata_are_spread_evenly():
    chosen, _, _ = select_candidates(
        _pool(), BalanceSettings(target=40, controls=0.0), ["match", "non_match"]
    )
    for cls in ("match", "non_match"):  # within a class, every stratum gets its turn
        by_stratum = Counter(chosen.filter(pl.col("class") == cls)["stratum"])
        assert max(by_stratum.values()) - min(by_stratum.values()) <= 1, by_stratum


def test_cluster_cap_and_shortfall_report():
    pool = _pool(n_match=40, n_non=40, n_controls=0, cluster_every=10)  # 8 clusters of 10
    settings = BalanceSettings(target=50, max_per_cluster=2, controls=0.0)
    chosen, shortfalls, _ = select_candidates(pool, settings, ["match", "non_match"])
    assert max(Counter(chosen["cluster_id"]).values()) <= 2
    assert chosen.height == 16
    assert (
        "match failures: wanted 25, 8 selected (40 failing records of that class, at most 2 per cluster)"
        in shortfalls
    )


def test_quotas_are_reserved_and_reported():
    settings = BalanceSettings(
        target=100, controls=0.0, quotas=[Quota("edge_case", "nickname", 0.2)]
    )
    chosen, shortfalls, _ = select_candidates(_pool(nicknames=10), settings, ["match", "non_match"])
    assert (chosen["edge_case"] == "nickname").sum() == 10
    # the match side of the quota is met, by the quota itself, and so it is not a shortfall
    by_quota = chosen.filter(pl.col("selected_by") == "quota edge_case=nickname")
    assert Counter(by_quota["class"]) == {"match": 10}
    assert not any(line.startswith("match x nickname") for line in shortfalls)
    assert (
        "non_match x nickname: wanted 10, 0 available (no failing non_match record has edge_case nickname)"
        in shortfalls
    )


def test_option_parsing_errors():
    assert parse_ratio("match=1,non_match=3") == {"match": 0.25, "non_match": 0.75}
    with pytest.raises(ConfigError, match="CLASS=SHARE"):
        parse_ratio("match:0.5")
    with pytest.raises(ConfigError, match="KEY=VALUE=SHARE"):
        Quota.parse("nickname=0.1")
    with pytest.raises(ConfigError, match="KEY is one of"):
        Quota.parse("tag=nickname=0.1")


def test_cli_balance_on_the_sample(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    for name in ("curate.toml", "entity_match_output.schema.json"):
        (tmp_path / name).write_text((SAMPLE / name).read_text())
    args = [
        "ingest",
        str(SAMPLE / "entity_match_chat.jsonl.gz"),
        "--task",
        "entity_match",
        "--references",
        str(SAMPLE / "entity_match_references.csv"),
    ]
    assert runner.invoke(main, args).exit_code == 0
    early = runner.invoke(main, ["balance"])
    assert early.exit_code == 1 and "run `curate detect`" in early.output
    assert runner.invoke(main, ["detect"]).exit_code == 0
    result = runner.invoke(
        main,
        [
            "balance",
            "--target",
            "200",
            "--seed",
            "1",
            "--quota",
            "edge_case=nickname=0.1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["tasks"]["entity_match"]
    assert summary["selected"] == 200 and summary["controls_selected"] == 20
    after = summary["after"]
    assert abs(after["class"]["match"] - after["class"]["non_match"]) <= 1
    assert after["edge_case"]["nickname"] >= 15
    candidates = pl.read_parquet(tmp_path / ".curate" / "candidates.parquet")
    assert candidates.height == 200 and candidates["stratum"].null_count() == 0
    clusters = pl.read_parquet(tmp_path / ".curate" / "clusters.parquet")
    assert clusters.height == 3000
    tags = pl.read_parquet(tmp_path / ".curate" / "tags.parquet")
    assert set(tags["field"]) == {"first_name", "surname", "dob", "city", "email"}
    again = json.loads(
        runner.invoke(
            main,
            [
                "balance",
                "--target",
                "200",
                "--seed",
                "1",
                "--quota",
                "edge_case=nickname=0.1",
                "--json",
            ],
        ).stdout
    )
    assert again["tasks"]["entity_match"]["after"] == after
    human = runner.invoke(main, ["balance", "--target", "200"])
    assert "entity_match by edge_case" in human.output


def test_generation_tasks_balance_across_failure_types(workspace):
    from curate.balance.stage import BalanceSettings, balance_candidates
    from curate.core.config import Config
    from curate.detect.stage import find_failures
    from tests.detect.detectors.helpers import put

    rows = [{"output": f"summary {i}", "finish_reason": "length"} for i in range(30)]
    rows += [{"output": None, "refusal": "no"} for _ in range(5)]
    rows += [{"output": f"fine {i}"} for i in range(40)]
    put(workspace, rows, task="summarize")
    config = Config(data={"tasks": {"summarize": {"kind": "generation"}}})
    find_failures(Project(workspace, config))
    # cut at max_tokens is a config failure: left out of the training set by default
    default = balance_candidates(
        Project(workspace, config), BalanceSettings(target=20, controls=0.25)
    ).tasks["summarize"]
    left_out = {k.split(",")[0]: v for k, v in default["left_out"].items()}
    assert left_out["config or infrastructure failures"] == 30
    assert default["after"]["class"] == {"refusal": 5, "control": 5}
    result = balance_candidates(
        Project(workspace, config),
        BalanceSettings(target=20, controls=0.25, include_config_failures=True),
    )
    summary = result.tasks["summarize"]
    # 15 failures in equal shares of the two failure types; refusal has only 5 to give
    assert summary["targets"]["failures"] == {"refusal": 8, "truncated": 7}
    assert summary["after"]["class"] == {"truncated": 7, "refusal": 5, "control": 5}
    assert summary["shortfalls"] == [
        "refusal failures: wanted 8, 5 selected (5 failing records of that class, at most 2 per cluster)"
    ]


def _batch_output_line(i: int, content: str) -> dict:
    return {
        "id": f"batch_req_{i}",
        "custom_id": f"t-{i}",
        "response": {
            "status_code": 200,
            "body": {
                "id": f"chatcmpl-{i}",
                "object": "chat.completion",
                "model": "gpt-4.1-nano",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            },
        },
        "error": None,
    }


def test_records_without_input_text_are_not_near_duplicates(tmp_path, workspace):
    """Batch output without its input file: no prompt text, yet the target is filled."""
    from curate.balance.stage import BalanceSettings, balance_candidates
    from curate.core.config import Config
    from curate.detect.stage import find_failures
    from curate.ingest.stage import ingest_logs
    from tests.conftest import write_jsonl

    labels = ["billing", "technical"]
    lines = [_batch_output_line(i, labels[i % 2]) for i in range(400)]
    refs = tmp_path / "refs.csv"
    # every third answer is wrong: a failure of a known class
    refs.write_text(
        "id,reference\n" + "".join(f"t-{i},{labels[(i + (i % 3 == 0)) % 2]}\n" for i in range(400))
    )
    path = write_jsonl(tmp_path / "out.jsonl", lines)
    config = Config(data={"tasks": {"t": {"kind": "classification", "labels": labels}}})
    ingest_logs(Project(workspace, config), [path], task="t", references=refs)
    find_failures(Project(workspace, config))
    result = balance_candidates(
        Project(workspace, config), BalanceSettings(target=120, controls=0.1)
    )
    summary = result.tasks["t"]
    assert summary["selected"] == 120
    assert summary["clusters"] == 400
    assert any(
        "400 of 400 records have no input text" in w and "input file" in w for w in result.warnings
    )


def test_no_input_warning_names_the_cause_of_the_records_without_input():
    """Batch records with their prompts and one chat record without messages: the warning
    says the logs carry no request messages, not that a Batch input file is missing."""
    from curate.balance.stage import _no_input_warning

    records = pl.DataFrame({"source_format": ["openai_batch"] * 3 + ["openai_chat"]})
    warning = _no_input_warning("t", records, pl.Series([False, False, False, True]))
    assert "1 of 4 records have no input text (their logs carry no request messages)" in warning
    batch = _no_input_warning("t", records, pl.Series([True, False, False, False]))
    assert "pass the input file too" in batch
