"""push and pull on the in-memory stand-in of the queue (the real server: tests/integration)."""

from __future__ import annotations

import polars as pl
import pytest

from curate.core.project import Project
from curate.queue.memory import MemoryQueue
from curate.queue.stage import push_queue
from tests.conftest import balanced_sample


@pytest.fixture
def queue() -> MemoryQueue:
    return MemoryQueue()


def test_annotators_see_what_the_detectors_found(tmp_path, queue):
    workspace, config = balanced_sample(tmp_path, target=40, seed=3)
    push_queue(Project(workspace, config, queue_backend=queue), task="entity_match")
    candidates = pl.read_parquet(workspace.root / "candidates.parquet")
    findings = pl.read_parquet(workspace.root / "findings.parquet")
    pushed = queue.dataset("curate-entity_match").records
    failing = candidates.filter(~pl.col("is_control"))["record_id"].to_list()
    assert failing
    for record_id in failing:
        shown = pushed[record_id]["fields"]["findings"]
        detectors = findings.filter(pl.col("record_id") == record_id)["detector"].to_list()
        assert detectors and all(f"**{d}**" in shown for d in detectors), shown
    for record_id in candidates.filter(pl.col("is_control"))["record_id"].to_list():
        assert pushed[record_id]["fields"]["findings"].startswith("_(a control")
