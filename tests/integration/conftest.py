from __future__ import annotations

import os
import urllib.request

import pytest

from curate.balance import BalanceSettings, balance_candidates
from curate.config import load_config
from curate.detect import find_failures
from curate.ingest import ingest
from curate.stack.local import API_KEY, HOST, PORTS
from curate.workspace import Workspace
from tests.conftest import SAMPLE


@pytest.fixture(scope="session")
def argilla_url() -> str:
    """The local Argilla stack that `make test` started. In CI its absence fails the run."""
    url = f"http://{HOST}:{PORTS['argilla']}"
    try:
        with urllib.request.urlopen(f"{url}/api/_status", timeout=5) as response:
            ok = response.status == 200
    except OSError:
        ok = False
    if not ok:
        message = f"no Argilla server at {url}: run `make stack-up` (make test does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture(scope="session")
def argilla_client(argilla_url):
    import argilla as rg

    return rg.Argilla(api_url=argilla_url, api_key=API_KEY)


@pytest.fixture
def labelled_workspace(tmp_path):
    """The entity-match sample, detected and balanced to 30 candidates."""
    for name in ("curate.toml", "entity_match_output.schema.json"):
        (tmp_path / name).write_text((SAMPLE / name).read_text())
    (tmp_path / "curate.toml").write_text(
        (tmp_path / "curate.toml").read_text() + "\n[argilla]\nmin_submitted = 2\n"
    )
    config = load_config(tmp_path / "curate.toml")
    workspace = Workspace(tmp_path / ".curate", tmp_path / "curate.toml")
    ingest(
        workspace,
        [SAMPLE / "entity_match_chat.jsonl.gz"],
        config=config,
        task="entity_match",
        references=SAMPLE / "entity_match_references.csv",
    )
    find_failures(workspace, config)
    balance_candidates(workspace, config, BalanceSettings(target=30, seed=2, task="entity_match"))
    return workspace, config
