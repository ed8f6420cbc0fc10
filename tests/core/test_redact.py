"""Personal data stays out of the labelling UI and the training set (issue 15): Presidio on the
splink person records (names, dates, emails) and the Langfuse exports."""

from __future__ import annotations

import csv
import json
import random
import re
import stat

import pytest

from curate.core.config import load_config
from curate.core.project import Project
from curate.core.redact import Policy, redact_records
from curate.core.workspace import Workspace
from curate.detect.stage import find_failures
from curate.ingest.stage import ingest_logs
from curate.queue.memory import MemoryQueue
from curate.queue.preview import redaction_preview
from curate.queue.stage import push_queue
from tests.conftest import write_jsonl

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
FIELDS = ["first_name", "surname", "dob", "city", "email"]
TOML = """
[tasks.person_match]
kind = "pair_match"
labels = ["match", "non_match"]

[tasks.person_match.parse]
mode = "json"
field = "decision"

[tasks.person_match.pair]
left = "metadata.left"
right = "metadata.right"
names = ["first_name", "surname"]
dates = ["dob"]
other = ["city", "email"]

[tasks.person_match.redact]
entities = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"]
action = "pseudonym"
keep_fields = ["first_name", "surname", "dob", "city"]
"""


def _splink_logs(shared, folder, n=240):
    people = {
        row["unique_id"]: row
        for row in csv.DictReader((shared / "splink_person_er" / "fake_1000.csv").open())
    }
    labels = list(csv.DictReader((shared / "splink_person_er" / "fake_1000_labels.csv").open()))
    rng = random.Random(5)
    rng.shuffle(labels)
    lines, refs = [], ["id,reference"]
    for i, label in enumerate(labels[:n]):
        left = {f: people[label["unique_id_l"]][f] or None for f in FIELDS}
        right = {f: people[label["unique_id_r"]][f] or None for f in FIELDS}
        truth = "match" if float(label["clerical_match_score"]) > 0.5 else "non_match"
        said = truth if i % 3 else ("non_match" if truth == "match" else "match")
        card = " Paid with 4111 1111 1111 1111." if i % 10 == 0 else ""
        text = f"Record A: {json.dumps(left)}\nRecord B: {json.dumps(right)}{card}"
        lines.append(
            {
                "request": {
                    "model": "gpt-4o-mini",
                    "messages": [
                        {"role": "system", "content": "Do the two records match?"},
                        {"role": "user", "content": text},
                    ],
                },
                "response": {
                    "id": f"chatcmpl-p{i}",
                    "object": "chat.completion",
                    "created": 1_790_000_000 + i,
                    "model": "gpt-4o-mini",
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": json.dumps({"decision": said, "email": left["email"]}),
                            },
                            "finish_reason": "stop",
                        }
                    ],
                },
                "metadata": {"left": left, "right": right},
            }
        )
        refs.append(f"chatcmpl-p{i},{truth}")
    write_jsonl(folder / "pairs.jsonl", lines)
    (folder / "refs.csv").write_text("\n".join(refs) + "\n")
    return people


def _balanced(tmp_path, shared_data, monkeypatch, toml: str):
    """The splink pairs ingested, detected and balanced under `toml`, with an in-memory queue."""
    from curate.balance.stage import BalanceSettings, balance_candidates

    people = _splink_logs(shared_data, tmp_path)
    (tmp_path / "curate.toml").write_text(toml)
    config = load_config(tmp_path / "curate.toml")
    project = Project(Workspace(tmp_path / ".curate", tmp_path / "curate.toml"), config)
    ingest_logs(
        project, [tmp_path / "pairs.jsonl"], task="person_match", references=tmp_path / "refs.csv"
    )
    find_failures(project)
    balance_candidates(project, BalanceSettings(target=60, seed=1))
    queue = project.queue_backend = MemoryQueue()
    return project, queue, people


@pytest.fixture
def person_project(tmp_path, shared_data, monkeypatch):
    return _balanced(tmp_path, shared_data, monkeypatch, TOML)


def _texts(record: dict) -> str:
    values = list(record["fields"].values())
    values += [s.get("value") or "" for s in record.get("suggestions", {}).values()]
    return "\n".join(v for v in values if isinstance(v, str))


def test_pushed_records_carry_no_email_and_keep_what_the_task_needs(person_project):
    project, queue, people = person_project
    (result,) = push_queue(project)
    assert result.redacted.get("EMAIL_ADDRESS", 0) > 0
    emails = {p["email"] for p in people.values() if p["email"]}
    records = [r for d in queue.datasets.values() for r in d.records.values()]
    assert records
    for record in records:
        text = _texts(record)
        assert not EMAIL.search(text), text
        assert "4111 1111 1111 1111" not in text
        assert not any(email in text for email in emails)
    # the names the task keeps are there; equal emails share a placeholder, different do not
    candidates = project.workspace.read_table("candidates")
    meta = dict(
        project.workspace.scan_records()
        .select("record_id", "metadata")
        .collect()
        .join(candidates.select("record_id"), on="record_id")
        .iter_rows()
    )
    checked = {"same": 0, "different": 0}
    for record in records:
        pair = json.loads(meta[record["external_id"]])
        left, right = pair["left"], pair["right"]
        table = record["fields"]["pair"]
        for name in ("first_name", "surname"):
            for side in (left, right):
                if side[name]:
                    assert side[name] in table
        row = next(line for line in table.splitlines() if "email" in line)
        found = re.findall(r"<EMAIL_ADDRESS_\d+>", row)
        if left["email"] and right["email"]:
            assert len(found) == 2
            kind = "same" if left["email"] == right["email"] else "different"
            assert (found[0] == found[1]) == (kind == "same")
            checked[kind] += 1
    assert checked["same"] and checked["different"]


def test_the_mapping_stays_in_the_workspace(person_project, tmp_path):
    project, queue, _ = person_project
    push_queue(project)
    path = project.workspace.root / "redaction" / "mapping.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = {
        v for line in path.read_text().splitlines() for v in json.loads(line)["values"].values()
    }
    assert values and all(EMAIL.fullmatch(v) or "4111" in v for v in values)
    pushed = json.dumps([r for d in queue.datasets.values() for r in d.records.values()])
    assert not any(v in pushed for v in values)


def test_preview_counts_and_shows_before_and_after(person_project):
    project, _, _ = person_project
    data = redaction_preview(project, limit=3)
    task = data["tasks"]["person_match"]
    assert task["counts"]["EMAIL_ADDRESS"] > 0 and task["records_with_personal_data"] > 0
    assert len(task["examples"]) == 3
    example = task["examples"][0]
    assert EMAIL.search(example["before"]) and not EMAIL.search(example["after"])
    assert not (project.workspace.root / "redaction").exists(), "a preview writes nothing"


def test_equal_values_share_a_placeholder_within_a_record_only():
    policy = Policy(entities=("EMAIL_ADDRESS",))
    records = [
        {"id": ["a"], "text": ["x@a.com then y@b.com then x@a.com"], "out": ["y@b.com"]},
        {"id": ["b"], "text": ["y@b.com"]},
    ]
    done, found = redact_records(records, policy)
    assert done[0]["text"][0] == "<EMAIL_ADDRESS_1> then <EMAIL_ADDRESS_2> then <EMAIL_ADDRESS_1>"
    assert done[0]["out"][0] == "<EMAIL_ADDRESS_2>"
    assert done[1]["text"][0] == "<EMAIL_ADDRESS_1>", "numbered per record"
    assert found.mappings["a"] == {"<EMAIL_ADDRESS_1>": "x@a.com", "<EMAIL_ADDRESS_2>": "y@b.com"}
    masked, _ = redact_records(records, Policy(entities=("EMAIL_ADDRESS",), action="mask"))
    assert masked[1]["text"][0] == "<EMAIL_ADDRESS>"


def test_langfuse_exports_lose_their_urls(shared_data, tmp_path):
    """Real Langfuse trace exports through ingest and redaction: every web address in their
    conversations and outputs is replaced (they hold no emails or phone numbers)."""
    config = tmp_path / "curate.toml"
    config.write_text(
        '[tasks.agent]\nkind = "generation"\n[tasks.agent.redact]\n'
        'entities = ["EMAIL_ADDRESS", "PHONE_NUMBER", "URL", "IP_ADDRESS"]\naction = "mask"\n'
    )
    project = Project(Workspace(tmp_path / ".curate", config), load_config(config))
    traces = sorted((shared_data / "langfuse_trace_exports").glob("*.trace.json"))
    ingest_logs(project, traces, task="agent")
    table = project.workspace.scan_records().select("record_id", "messages", "output").collect()
    records = [
        {"id": [r], "turns": [m["content"] or "" for m in messages], "output": [output or ""]}
        for r, messages, output in table.iter_rows()
    ]
    web = re.compile(r"https?://\S+")
    before = sum(len(web.findall(t)) for r in records for t in r["turns"] + r["output"])
    done, found = redact_records(records, Policy.of(project.tasks["agent"]))
    after = sum(len(web.findall(t)) for r in done for t in r["turns"] + r["output"])
    assert before >= 2 and after == 0
    assert found.counts["URL"] >= before
    assert any("<URL>" in t for r in done for t in r["turns"] + r["output"])


def test_redact_preview_from_the_command_line(person_project, runner):
    from curate.cli import main

    project, _, _ = person_project
    args = ["--workspace", str(project.workspace.root), "--config", str(project.config.path)]
    data = json.loads(runner.invoke(main, [*args, "redact", "--preview", "--json"]).stdout)
    assert data["tasks"]["person_match"]["counts"]["EMAIL_ADDRESS"] > 0
    human = runner.invoke(main, [*args, "redact", "--preview", "--limit", "1"])
    assert human.exit_code == 0 and "before:" in human.output and "after:" in human.output
    refused = runner.invoke(main, [*args, "redact"])
    assert refused.exit_code == 2 and "--preview" in refused.output


def _without_ner(monkeypatch):
    """Presidio's engine as it is here, reporting no spaCy model (whatever is installed)."""
    from curate.core import redact

    batch, _ = redact.engine()
    monkeypatch.setattr(redact, "engine", lambda phone_regions=None: (batch, False))


TEXT = "mail a@b.com or call +1 212 555 0101; I am John Smith"


def test_names_only_without_a_model_replace_nothing_else(monkeypatch):
    """Before: PERSON alone was filtered to an empty list, which Presidio reads as 'every
    type': the email and the phone were replaced though the policy did not list them."""
    _without_ner(monkeypatch)
    records = [{"id": ["a"], "text": [TEXT]}]
    done, found = redact_records(records, Policy(entities=("PERSON",)))
    assert done == records and not found.counts


def test_a_listed_name_type_without_a_model_is_said(monkeypatch):
    from curate.core.errors import ConfigError

    _without_ner(monkeypatch)
    policy = Policy(entities=("PERSON", "EMAIL_ADDRESS"), listed_in="[tasks.t.redact] entities")
    with pytest.raises(ConfigError, match=r"\[tasks\.t\.redact\] entities lists PERSON.*spaCy"):
        redact_records([{"id": ["a"], "text": [TEXT]}], policy)


def test_an_unknown_entity_type_is_named():
    from curate.core.errors import ConfigError

    policy = Policy(entities=("EMAIL_ADRESS",), listed_in="[tasks.t.redact] entities")
    with pytest.raises(ConfigError, match=r"'EMAIL_ADRESS'.*did you mean 'EMAIL_ADDRESS'"):
        redact_records([{"id": ["a"], "text": [TEXT]}], policy)


def test_only_the_listed_types_are_replaced():
    done, found = redact_records(
        [{"id": ["a"], "text": [TEXT]}], Policy(entities=("PHONE_NUMBER",))
    )
    assert done[0]["text"][0] == "mail a@b.com or call <PHONE_NUMBER_1>; I am John Smith"
    assert dict(found.counts) == {"PHONE_NUMBER": 1}


@pytest.mark.parametrize(("setting", "emails_kept"), [("", False), ("redact = false\n", True)])
def test_the_default_policy_replaces_patterns_and_false_turns_it_off(
    tmp_path, shared_data, monkeypatch, setting, emails_kept
):
    """Without [tasks.NAME.redact] the pattern entities are replaced in what people see and in
    the training set (before: annotators saw real emails unless a policy was written);
    `redact = false` turns it off."""
    from curate.export.stage import ExportSettings, export_dataset

    toml = TOML.split("[tasks.person_match.redact]")[0]
    toml = toml.replace('kind = "pair_match"\n', 'kind = "pair_match"\n' + setting)
    # audit: half the referenced candidates go to people, the rest are exported by reference
    toml += '\n[tasks.person_match.answers]\nreferences = "audit"\naudit_share = 0.5\n'
    project, queue, _ = _balanced(tmp_path, shared_data, monkeypatch, toml)
    push_queue(project, task="person_match")
    pushed = "\n".join(_texts(r) for d in queue.datasets.values() for r in d.records.values())
    export_dataset(project, ExportSettings(name="x", allow_small=True, seed=1))
    exported = "".join(
        (project.workspace.root / "exports" / "x" / f"{split}.jsonl").read_text()
        for split in ("train", "validation")
    )
    assert pushed and exported
    for text in (pushed, exported):
        assert bool(EMAIL.search(text)) == emails_kept
        assert ("<EMAIL_ADDRESS_1>" in text) != emails_kept


def test_many_texts_are_analysed_on_every_core_with_the_same_findings(monkeypatch):
    """From POOL_TEXTS distinct texts on (patterns only), slices of them are analysed in
    spawned processes: the findings, in order, are those of one process."""
    from curate.core import redact

    _without_ner(monkeypatch)  # patterns only, whatever is installed
    monkeypatch.setattr(redact.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(redact, "POOL_TEXTS", 10)
    texts = [f"{t} {i}" for i in range(200) for t in (TEXT, "nothing here", "ip 10.0.0.1")]
    here = redact._patterns(texts, list(redact.PATTERN_ENTITIES))
    pooled = list(redact.analyze(texts, list(redact.PATTERN_ENTITIES)))

    def key(results):
        return [sorted((r.entity_type, r.start, r.end, r.score) for r in rs) for rs in results]

    assert len(pooled) == len(texts) and key(pooled) == key(here)
    assert sum(map(len, here)) >= 600


def test_where_no_process_can_be_started_the_texts_are_analysed_here(monkeypatch):
    """A machine that refuses new processes (a sandbox, a limit) gets the same findings from
    this process."""
    import concurrent.futures

    from curate.core import redact

    class Refused:
        def __init__(self, *args, **kwargs):
            raise OSError("no new processes")

    _without_ner(monkeypatch)
    monkeypatch.setattr(redact.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(redact, "POOL_TEXTS", 10)
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Refused)
    texts = [f"{TEXT} {i}" for i in range(30)]
    got = list(redact.analyze(texts, list(redact.PATTERN_ENTITIES)))
    here = redact._patterns(texts, list(redact.PATTERN_ENTITIES))
    assert [len(r) for r in got] == [len(r) for r in here] and sum(map(len, got)) >= 60
