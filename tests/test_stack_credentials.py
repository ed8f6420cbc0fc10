"""The local stack's account is made per workspace, unguessable and readable by its owner only
(issue 15, item 5); a workspace set up before keeps the values its server has."""

from __future__ import annotations

import stat

from curate.core.workspace import Workspace
from curate.stack.local import LEGACY_API_KEY, LEGACY_PASSWORD, Stack


def _stack(root) -> Stack:
    return Stack.for_workspace(Workspace(root / ".curate"))


def test_credentials_differ_per_workspace_and_are_private(tmp_path):
    a, b = _stack(tmp_path / "a"), _stack(tmp_path / "b")
    assert a.credentials() is None, "made at the first `argilla up`, not before"
    first, second = a.credentials(create=True), b.credentials(create=True)
    assert first["password"] != second["password"] and first["api_key"] != second["api_key"]
    assert len(first["password"]) >= 20 and first["api_key"].startswith("curate.")
    assert a.credentials() == first == a.credentials(create=True), "made once, then kept"
    mode = stat.S_IMODE((a.run / "credentials.json").stat().st_mode)
    assert mode == 0o600, oct(mode)
    assert a.status()["password"] == first["password"]


def test_a_server_set_up_before_keeps_its_values(tmp_path):
    old = _stack(tmp_path)
    (old.run / "server").mkdir(parents=True)
    (old.run / "server" / "argilla.db").write_bytes(b"")
    made = old.credentials(create=True)
    assert (made["password"], made["api_key"]) == (LEGACY_PASSWORD, LEGACY_API_KEY)
