"""The local stack is real: OpenSearch, Redis, the Argilla server, reached over HTTP."""

from __future__ import annotations

import json
import time
import urllib.request

from curate.stack.local import HOST, PORTS


def test_opensearch_is_a_real_node_with_what_argilla_needs():
    with urllib.request.urlopen(f"http://{HOST}:{PORTS['opensearch']}/", timeout=5) as response:
        info = json.loads(response.read())
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"] == "2.19.6"


def test_a_dataset_round_trip_and_an_upsert_without_duplicates(argilla_client):
    import argilla as rg

    settings = rg.Settings(
        fields=[rg.TextField(name="text")],
        questions=[rg.LabelQuestion(name="label", labels=["match", "non_match"])],
        metadata=[rg.TermsMetadataProperty(name="detector")],
    )
    dataset = rg.Dataset(
        name=f"stack-smoke-{time.time_ns()}", settings=settings, client=argilla_client
    )
    dataset.create()
    try:
        records = [
            rg.Record(id=f"r{i}", fields={"text": f"pair {i}"}, metadata={"detector": "truncated"})
            for i in range(3)
        ]
        dataset.records.log(records)
        dataset.records.log([rg.Record(id="r1", fields={"text": "pair 1, edited"})])
        texts = sorted(r.fields["text"] for r in dataset.records)
        assert texts == ["pair 0", "pair 1, edited", "pair 2"]
    finally:
        dataset.delete()


def test_status_command_reports_every_part_healthy(argilla_url, runner, tmp_path):
    from curate.cli import main

    result = runner.invoke(
        main, ["--workspace", ".test-stack/.curate", "argilla", "status", "--json"]
    )
    status = json.loads(result.stdout)
    assert status["url"] == argilla_url
    assert (
        status["opensearch"]["healthy"]
        and status["redis"]["healthy"]
        and status["argilla"]["healthy"]
    )
