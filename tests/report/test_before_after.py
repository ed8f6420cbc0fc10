"""Did the fine-tune fix it? Two models answering the same requests, in the shapes real logs
have (Batch files with the same custom_ids, a CSV whose id column names the test pair), must
both be kept, compared on their own failures, with statistics checked against an independent
computation."""

from __future__ import annotations

import json
import math

import pytest

from curate.cli import main
from tests.conftest import write_jsonl

TOPICS = ["billing", "technical", "account", "other"]
CONFIG = """
[tasks.topic]
kind = "classification"
labels = ["billing", "technical", "account", "other"]
"""
BEFORE, AFTER = "gpt-4.1-nano-2025-04-14", "ft:gpt-4.1-nano:acme:topics"


def _truth(i: int) -> str:
    return TOPICS[i % 4]


def _wrong(i: int, shift: int = 1) -> str:
    return TOPICS[(i + shift) % 4]


def _mcnemar_chi2_p(only_a: int, only_b: int) -> float:
    """McNemar's chi-square with continuity correction, written out: for one degree of
    freedom, P(chi2 > x) = erfc(sqrt(x / 2))."""
    statistic = (abs(only_a - only_b) - 1) ** 2 / (only_a + only_b)
    return math.erfc(math.sqrt(statistic / 2))


def _project(tmp_path):
    (tmp_path / "curate.toml").write_text(CONFIG)
    return ["--workspace", str(tmp_path / ".curate"), "--config", str(tmp_path / "curate.toml")]


def _run(runner, args: list[str]) -> dict:
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# -- Batch: the same input file run through two models ---------------------------------------

N_BATCH = 600


def _batch_input(i: int) -> dict:
    return {
        "custom_id": f"ticket-{i:04d}",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "model": "gpt-4.1-nano",
            "max_tokens": 5,
            "messages": [
                {"role": "system", "content": "Answer with the topic."},
                {"role": "user", "content": f"ticket {i}: my order {i * 7} is late"},
            ],
        },
    }


def _batch_output(i: int, model: str, batch: str, content: str) -> dict:
    return {
        "id": f"batch_req_{batch}_{i:04d}",
        "custom_id": f"ticket-{i:04d}",
        "response": {
            "status_code": 200,
            "request_id": f"req_{batch}_{i}",
            "body": {
                "id": f"chatcmpl-{batch}-{i:04d}",
                "object": "chat.completion",
                "created": 1_790_000_000 + i,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 30, "completion_tokens": 2},
            },
        },
        "error": None,
    }


def _before_wrong(i: int) -> bool:
    return i % 5 in (0, 1)  # 240 of 600


def _after_wrong(i: int) -> bool:
    return i % 10 == 0 or i % 50 == 7  # 60 the fine-tune kept, 12 it broke


@pytest.fixture
def batch_project(tmp_path, runner):
    args = _project(tmp_path)
    write_jsonl(tmp_path / "input.jsonl", [_batch_input(i) for i in range(N_BATCH)])
    for name, model, wrong in (("before", BEFORE, _before_wrong), ("after", AFTER, _after_wrong)):
        rows = [
            _batch_output(i, model, name, _wrong(i) if wrong(i) else _truth(i))
            for i in range(N_BATCH)
        ]
        write_jsonl(tmp_path / f"{name}.jsonl", rows[::-1])  # Batch output comes in any order
    refs = ["id,reference"] + [f"ticket-{i:04d},{_truth(i)}" for i in range(N_BATCH)]
    (tmp_path / "refs.csv").write_text("\n".join(refs) + "\n")
    return tmp_path, args


def _ingest(runner, root, args, name: str) -> dict:
    return _run(
        runner,
        [
            *args,
            "ingest",
            str(root / f"{name}.jsonl"),
            str(root / "input.jsonl"),
            "--task",
            "topic",
            "--references",
            str(root / "refs.csv"),
        ],
    )


def test_two_models_on_the_same_batch_requests_are_both_kept(batch_project, runner):
    root, args = batch_project
    first = _ingest(runner, root, args, "before")
    second = _ingest(runner, root, args, "after")
    assert (first["ingested"], first["duplicates"]) == (N_BATCH, 0)
    assert (second["ingested"], second["duplicates"]) == (N_BATCH, 0)
    assert second["by_model"] == {AFTER: N_BATCH}
    assert second["references"]["matched"] == N_BATCH  # the custom_id still keys references
    for name in ("before", "after"):  # a re-ingest of either adds nothing
        again = _ingest(runner, root, args, name)
        assert (again["ingested"], again["duplicates"]) == (0, N_BATCH)
    status = _run(runner, [*args, "status"])
    assert status["records"] == 2 * N_BATCH

    _run(runner, [*args, "detect"])
    data = _run(runner, [*args, "report", "--compare", BEFORE, AFTER])["compare"]
    row = data["by_detector"]["reference_mismatch"]
    assert (row["a"]["calls"], row["b"]["calls"]) == (N_BATCH, N_BATCH)
    a_wrong = {i for i in range(N_BATCH) if _before_wrong(i)}
    b_wrong = {i for i in range(N_BATCH) if _after_wrong(i)}
    assert (row["a"]["failures"], row["b"]["failures"]) == (len(a_wrong), len(b_wrong))
    only_a, only_b = len(a_wrong - b_wrong), len(b_wrong - a_wrong)
    assert (only_a, only_b) == (180, 12)
    assert row["paired"] | {"p_value": None} == {
        "inputs": N_BATCH,
        "only_a_failed": only_a,
        "only_b_failed": only_b,
        "p_value": None,
        "test": "mcnemar-chi2",
    }
    assert row["paired"]["p_value"] == pytest.approx(
        _mcnemar_chi2_p(only_a, only_b), rel=1e-6, abs=0
    )
    assert row["verdict"] == "improved"
    # the model answered consistently: nothing is inconsistent on either side
    assert "inconsistent" not in data["by_detector"]
    assert data["any_failure"]["verdict"] == "improved"


def test_a_workspace_of_the_earlier_identity_is_refused_with_what_to_do(batch_project, runner):
    root, args = batch_project
    _ingest(runner, root, args, "before")
    manifest_path = root / ".curate" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["record_identity"] == 2
    del manifest["record_identity"]  # as an earlier curate wrote it
    manifest_path.write_text(json.dumps(manifest))
    result = runner.invoke(main, [*args, "ingest", str(root / "after.jsonl")])
    assert result.exit_code != 0
    assert "openai_batch" in result.output and "move" in result.output
    assert "Traceback" not in result.output
    # it still reads as before
    assert _run(runner, [*args, "detect"])["records"] == N_BATCH


def test_an_earlier_workspace_without_request_named_records_is_carried_over(tmp_path, runner):
    from tests.conftest import chat_line

    args = _project(tmp_path)
    write_jsonl(tmp_path / "a.jsonl", [chat_line(i, "billing") for i in range(5)])
    write_jsonl(tmp_path / "b.jsonl", [chat_line(i + 5, "billing") for i in range(5)])
    _run(runner, [*args, "ingest", str(tmp_path / "a.jsonl")])
    manifest_path = tmp_path / ".curate" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["record_identity"]
    manifest_path.write_text(json.dumps(manifest))
    assert _run(runner, [*args, "ingest", str(tmp_path / "b.jsonl")])["ingested"] == 5
    assert json.loads(manifest_path.read_text())["record_identity"] == 2


# -- a CSV whose id names the test pair; two models that disagree on every input --------------

N_PAIRS = 2000
REPEATED_BEFORE = range(10)  # answered twice by the old model, differently
REPEATED_AFTER = range(10, 15)  # answered twice by the new model, the same way


def _before_answer(i: int) -> str:
    return _wrong(i) if i % 10 < 3 else _truth(i)  # right on 70%


def _after_answer(i: int) -> str:
    # always another answer than the old model's: wrong where it was right, right where not
    return _truth(i) if i % 10 < 3 else _wrong(i, 2)


def _pairs_csv(path, rows: list[tuple[str, str, str, str]]) -> None:
    import csv

    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "model", "input", "output", "reference", "logged_at"])
        for n, (pair, model, output, reference) in enumerate(rows):
            question = f"test pair {pair}: which topic?"
            writer.writerow([pair, model, question, output, reference, f"2026-11-01T00:00:{n}"])


def test_disagreement_between_models_is_no_failure_of_either(tmp_path, runner):
    args = _project(tmp_path)
    before = [(f"p{i}", BEFORE, _before_answer(i), _truth(i)) for i in range(N_PAIRS)]
    before += [(f"p{i}", BEFORE, _wrong(i, 3), _truth(i)) for i in REPEATED_BEFORE]
    after = [(f"p{i}", AFTER, _after_answer(i), _truth(i)) for i in range(N_PAIRS)]
    after += [(f"p{i}", AFTER, _after_answer(i), _truth(i)) for i in REPEATED_AFTER]
    _pairs_csv(tmp_path / "before.csv", before)
    _pairs_csv(tmp_path / "after.csv", after)
    mapping = ["--task", "topic"]
    for field in ("id", "model", "input", "output", "reference"):
        mapping += ["--map", f"{field}={field}"]
    for name, rows in (("before", before), ("after", after)):
        done = _run(runner, [*args, "ingest", str(tmp_path / f"{name}.csv"), *mapping])
        assert (done["ingested"], done["duplicates"]) == (len(rows), 0)
        again = _run(runner, [*args, "ingest", str(tmp_path / f"{name}.csv"), *mapping])
        assert (again["ingested"], again["duplicates"]) == (0, len(rows))

    detected = _run(runner, [*args, "detect"])
    # only the old model's own two answers to ten inputs disagree
    assert detected["detectors"]["inconsistent"]["count"] == 2 * len(REPEATED_BEFORE)
    assert detected["by_model"][AFTER]["detectors"].get("inconsistent") is None

    data = _run(runner, [*args, "report", "--compare", BEFORE, AFTER])["compare"]
    failed_a = {i for i in range(N_PAIRS) if _before_answer(i) != _truth(i)}
    failed_a |= set(REPEATED_BEFORE)  # inconsistent, or wrong the second time
    failed_b = {i for i in range(N_PAIRS) if _after_answer(i) != _truth(i)}
    only_a, only_b = len(failed_a - failed_b), len(failed_b - failed_a)
    paired = data["any_failure"]["paired"]
    assert (paired["inputs"], paired["only_a_failed"], paired["only_b_failed"]) == (
        N_PAIRS,
        only_a,
        only_b,
    )
    expected = _mcnemar_chi2_p(only_a, only_b)
    assert expected < 1e-50
    assert paired["p_value"] == pytest.approx(expected, rel=1e-6, abs=0)
    assert data["any_failure"]["verdict"] == "worse"
    # printed in scientific notation, not rounded to 0
    shown = runner.invoke(main, [*args, "report", "--compare", BEFORE, AFTER])
    assert f"{expected:.1e}" in shown.output


def test_format_p():
    from curate.report.compare import format_p

    assert format_p(2.4e-57) == "2.4e-57"
    assert format_p(0.000999) == "1.0e-03"
    assert format_p(0.001) == "0.001"
    assert format_p(0.04999) == "0.050"
    assert format_p(None) == "-"


# -- every call hit max_tokens; most answers were read ----------------------------------------

PAIRS = """
[tasks.topic]
kind = "classification"
labels = ["match", "non_match"]

[tasks.topic.synonyms]
match = ["yes"]
non_match = ["no"]
"""


def test_a_limit_hit_after_a_complete_answer_is_no_failure(tmp_path, runner):
    """max_tokens=5: 'Yes, the two entity' was read as a label; 'The two entity' could not be
    and no larger limit would have helped; a cut-off empty answer is config's to fix."""
    (tmp_path / "curate.toml").write_text(PAIRS)
    args = ["--workspace", str(tmp_path / ".curate"), "--config", str(tmp_path / "curate.toml")]
    n, unreadable, empty = 500, 150, 5
    rows = []
    for i in range(n):
        text = "Yes, the two entity" if i % 2 else "No, the two entity"
        if i < unreadable:
            text = "The two entity"
        elif i < unreadable + empty:
            text = ""
        line = _batch_output(i, BEFORE, "b", text)
        line["response"]["body"]["choices"][0]["finish_reason"] = "length"
        rows.append(line)
    write_jsonl(tmp_path / "out.jsonl", rows)
    write_jsonl(tmp_path / "input.jsonl", [_batch_input(i) for i in range(n)])
    _run(
        runner,
        [
            *args,
            "ingest",
            str(tmp_path / "out.jsonl"),
            str(tmp_path / "input.jsonl"),
            "--task",
            "topic",
        ],
    )
    detected = _run(runner, [*args, "detect"])
    assert detected["failing_records"] == unreadable + empty
    assert detected["detectors"]["truncated"]["count"] == empty
    assert detected["triage"]["format"]["records"] == unreadable
    assert detected["triage"]["config"]["records"] == empty
    assert detected["token_limit"] == {
        "calls": n,
        "cut": empty,
        "failing_otherwise": unreadable,
        "complete": n - unreadable - empty,
    }
    assert any(f"{n - unreadable - empty} after a complete answer" in x for x in detected["notes"])
    report = _run(runner, [*args, "report"])
    assert report["token_limit"] == detected["token_limit"]
    rows = report["failures"]["by_prompt_version"]
    assert [r["failure_rate"] for r in rows] == [pytest.approx((unreadable + empty) / n, rel=1e-12)]
    balanced = _run(runner, [*args, "balance", "--target", "120", "--seed", "1"])
    assert balanced["tasks"]["topic"]["selected"] == 120


# -- the README's before/after walkthrough, run as written ------------------------------------

FINE_TUNED = "ft:gpt-4.1-nano:acme:topics"


def fine_tuned_output(sample_output, references) -> str:
    """The sample's Batch input file as a fine-tuned model would have answered it: new batch
    and response ids, the same custom_ids, two in three of the old model's wrong answers put
    right, and no failed calls."""
    from curate.core.text import label_key_of

    known = dict(line.split(",") for line in references.read_text().split()[1:])
    lines = []
    for k, line in enumerate(sample_output.read_text().splitlines()):
        item = json.loads(line)
        truth = known.get(item["custom_id"], "other")
        body = item["response"]["body"]
        old = body["choices"][0]["message"]["content"] if "choices" in body else None
        answer = old
        if old is None or (label_key_of(old).split(" ")[0] != truth and k % 3):
            answer = truth
        answered = _batch_output(k, FINE_TUNED, "ft", answer)
        answered["custom_id"] = item["custom_id"]  # the same request, another call
        lines.append(json.dumps(answered))
    return "\n".join(lines) + "\n"


def test_the_readme_before_after_walkthrough_runs_as_written(tmp_path, monkeypatch, runner):
    import re
    import shutil

    from tests.conftest import REPO, SAMPLE

    readme = (REPO / "README.md").read_text()
    section = readme.split("### Did the fine-tune fix it?", 1)[1]
    block, shown = section.split("```bash\n", 1)[1].split("```\n", 1)
    shown = shown.split("```\n", 2)[1]  # the output block after the commands
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_WORKSPACE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    shutil.copy(SAMPLE / "curate.toml", "curate.toml")
    shutil.copy(SAMPLE / "entity_match_output.schema.json", ".")
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    shutil.copy(SAMPLE / "ticket_batch_output.jsonl", "before/output.jsonl")
    shutil.copy(SAMPLE / "ticket_batch_input.jsonl", "before/input.jsonl")
    shutil.copy(SAMPLE / "ticket_references.csv", "known_topics.csv")
    (tmp_path / "after" / "output.jsonl").write_text(
        fine_tuned_output(SAMPLE / "ticket_batch_output.jsonl", SAMPLE / "ticket_references.csv")
    )
    outputs = []
    for line in block.replace("\\\n", " ").splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("curate "):
            result = runner.invoke(main, line.split()[1:])
            assert result.exit_code == 0, (line, result.output)
            outputs.append(result.output)
    ingests = [o for o in outputs if "records added" in o]
    assert len(ingests) == 2
    assert all(re.search(r"\b600 records added, 0 duplicates", o) for o in ingests)
    compared = outputs[-1]
    rows = [r for r in shown.splitlines() if r.startswith("│ ") and "│" in r[2:]]
    assert len(rows) >= 4
    for row in rows:  # the table the README shows is the one the command prints
        cells = [c.strip() for c in row.strip("│").split("│")]
        assert any(
            cells == [c.strip() for c in r.strip("│").split("│")]
            for r in compared.splitlines()
            if r.startswith("│")
        ), row
