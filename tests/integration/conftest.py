from __future__ import annotations

import os
import urllib.request

import pytest

from curate.stack.local import HOST, PORTS
from tests.conftest import balanced_sample


def account() -> dict[str, str]:
    """The running local stack's owner account (generated at its first `curate argilla up`)."""
    from curate.stack.local import running_credentials

    found = running_credentials()
    if found is None:
        message = "no local stack started by curate: run `make stack-up` (make test does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


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


@pytest.fixture
def labelled_workspace(tmp_path):
    """The entity-match sample, detected and balanced to 30 candidates, two answers per record."""
    return balanced_sample(
        tmp_path, target=30, seed=2, extra_toml="\n[argilla]\nmin_submitted = 2\n"
    )
