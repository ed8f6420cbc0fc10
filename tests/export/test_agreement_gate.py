"""[export] min_kappa: an export of labels people do not agree on stops, with the figures and
what to do; so does one whose agreement was measured on too few records to tell."""

from __future__ import annotations

import json
import random
import re

import polars as pl
import pytest

from curate.core.annotations import resolve
from curate.core.config import load_config
from curate.core.errors import ExportError
from curate.core.project import Project
from curate.core.tables import ANNOTATIONS_SCHEMA
from curate.export.stage import ExportSettings, export_dataset
from tests.conftest import balanced_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return balanced_sample(tmp_path_factory.mktemp("gate"), target=60, seed=4)


def _label(workspace, agreeing: float, twice: int, seed: int = 1) -> None:
    """Two people label every candidate; on the first `twice` the second one too, agreeing
    with the first on about `agreeing` of them (else the other label)."""
    ids = pl.read_parquet(workspace.root / "candidates.parquet").sort("rank")["record_id"]
    rng = random.Random(seed)
    rows = []
    for i, record_id in enumerate(ids):
        first = "match" if rng.random() < 0.5 else "non_match"
        answers = [("ann", first)]
        if i < twice:
            same = rng.random() < agreeing
            answers.append(
                ("lead", first if same else ("match" if first == "non_match" else "non_match"))
            )
        for user, label in answers:
            for question, value in (("label", label), ("is_failure", "yes")):
                rows.append(
                    {
                        "record_id": record_id,
                        "dataset": "d",
                        "task": "entity_match",
                        "user_id": user,
                        "username": user,
                        "status": "submitted",
                        "question": question,
                        "value": json.dumps(value),
                        "answered_at": "2026-11-28T10:00:00",
                        "pulled_at": "2026-11-28T11:00:00",
                    }
                )
    annotations = pl.DataFrame(rows, schema=ANNOTATIONS_SCHEMA)
    annotations.write_parquet(workspace.root / "annotations.parquet")
    resolved, _ = resolve(annotations, "prefer-user", "ann")
    resolved.write_parquet(workspace.root / "resolved.parquet")


def _project(sample, gate: str) -> Project:
    workspace, config = sample
    path = config.path.with_name("gated.toml")
    path.write_text(config.path.read_text() + "\n[export]\n" + gate)
    return Project(workspace, load_config(path))


def test_agreement_below_the_bar_stops_the_export(sample):
    workspace, _ = sample
    _label(workspace, agreeing=0.62, twice=60)  # kappa about 0.3
    project = _project(sample, "min_kappa = 0.6\n")
    with pytest.raises(ExportError) as stopped:
        export_dataset(project, ExportSettings(name="gated", overwrite=True, allow_small=True))
    said = str(stopped.value)
    assert "task 'entity_match'" in said and "below 0.6" in said and "on 60 records" in said
    kappa = float(re.search(r"agree with kappa (\S+)", said).group(1))
    assert 0.1 < kappa < 0.5
    assert not (workspace.root / "exports" / "gated").exists()


def test_agreement_above_the_bar_exports_and_no_bar_never_stops(sample):
    workspace, config = sample
    _label(workspace, agreeing=0.97, twice=60)
    project = _project(sample, "min_kappa = 0.6\n")
    result = export_dataset(project, ExportSettings(name="gated", overwrite=True))
    assert sum(result.written.values()) > 0
    _label(workspace, agreeing=0.5, twice=60)
    result = export_dataset(Project(workspace, config), ExportSettings(name="free", overwrite=True))
    assert sum(result.written.values()) > 0


def test_too_few_records_answered_twice_is_too_few_to_tell(sample):
    workspace, _ = sample
    _label(workspace, agreeing=1.0, twice=8)
    project = _project(sample, "min_kappa = 0.6\nmin_kappa_records = 10\n")
    with pytest.raises(
        ExportError, match=r"measured on 8 records .* fewer than 10 .* too few to tell"
    ):
        export_dataset(project, ExportSettings(name="gated", overwrite=True))
