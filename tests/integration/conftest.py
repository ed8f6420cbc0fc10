from __future__ import annotations

import pytest

from curate.stack.local import HOST, PORTS
from tests.conftest import answers, balanced_sample, unavailable


def account() -> dict[str, str]:
    """The running local stack's owner account (generated at its first `curate argilla up`)."""
    from curate.stack.local import running_credentials

    found = running_credentials()
    if found is None:
        unavailable("no local stack started by curate: run `make stack-up` (make test does it)")
    return found


@pytest.fixture(scope="session")
def argilla_url() -> str:
    """The local Argilla stack that `make test` started. In CI its absence fails the run."""
    url = f"http://{HOST}:{PORTS['argilla']}"
    if not answers(f"{url}/api/_status"):
        unavailable(f"no Argilla server at {url}: run `make stack-up` (make test does it)")
    return url


@pytest.fixture
def labelled_workspace(tmp_path):
    """The entity-match sample, detected and balanced to 30 candidates, two answers per record."""
    return balanced_sample(
        tmp_path, target=30, seed=2, extra_toml="\n[argilla]\nmin_submitted = 2\n"
    )
