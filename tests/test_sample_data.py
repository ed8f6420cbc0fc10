from __future__ import annotations

import importlib.util

from tests.conftest import REPO, SAMPLE


def test_committed_sample_data_is_what_the_seeded_script_writes(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_sample_data", REPO / "scripts/make_sample_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for path in sorted(tmp_path.iterdir()):
        assert path.read_bytes() == (SAMPLE / path.name).read_bytes(), path.name
