"""Every export format, on the sample: its trainer's documented shape (tests/export/
trainer_schemas.py), and loadable by `datasets` as written. The tool-calling workspace gets the
same check in test_tool_calls.py."""

from __future__ import annotations

import json

import pytest

from curate.core.project import Project
from curate.export.exporters import available
from curate.export.stage import ExportSettings, export_dataset
from tests.export.test_export import annotated  # noqa: F401 - a fixture
from tests.export.trainer_schemas import check_export


@pytest.mark.parametrize("fmt", list(available()))
def test_the_sample_exports_in_each_formats_documented_shape(annotated, fmt):  # noqa: F811
    workspace, config, _, _ = annotated
    settings = ExportSettings(name=f"s-{fmt}", format=fmt, validation_fraction=0.0, overwrite=True)
    export_dataset(Project(workspace, config), settings)
    path = workspace.root / "exports" / f"s-{fmt}" / "train.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    check_export(fmt, lines, path)
