"""A full disk and a read-only workspace, for real: a small tmpfs mounted for the test (CI runs
as root, as the sessions do). Each command ends with a message naming the path and what to do,
and the workspace stays usable: once there is room, the same command gives a clean run's result."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import SAMPLE, unavailable


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode:
        message = f"cannot mount a tmpfs here ({done.stderr.decode().strip()})"
        unavailable(message + ": CI runs as root and must be able to")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _curate(workspace, *args):
    command = [sys.executable, "-m", "curate", "--workspace", str(workspace), *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=os.environ | {"COLUMNS": "200"}
    )


def _fill(disk) -> None:
    with open(disk / "filler", "wb") as fh, pytest.raises(OSError):
        while True:
            fh.write(bytes(64 << 10))
            fh.flush()


def test_a_full_disk_is_named_and_the_run_can_be_repeated(small_disk):
    workspace = small_disk / "ws"
    batch = [str(SAMPLE / "ticket_batch_output.jsonl"), str(SAMPLE / "ticket_batch_input.jsonl")]
    assert _curate(workspace, "init", str(small_disk)).returncode == 0
    _fill(small_disk)
    for args in (["ingest", *batch], ["detect"]):
        done = _curate(workspace, *args)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert f"no space left on the device ({workspace}" in done.stderr, done.stderr
    (small_disk / "filler").unlink()
    ingested = _curate(workspace, "ingest", *batch, "--json")
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["ingested"] == 600
    detected = _curate(workspace, "detect", "--json")
    assert detected.returncode == 0 and json.loads(detected.stdout)["records"] == 600


def test_a_read_only_workspace_is_named(small_disk):
    workspace = small_disk / "ws"
    batch = [str(SAMPLE / "ticket_batch_output.jsonl"), str(SAMPLE / "ticket_batch_input.jsonl")]
    assert _curate(workspace, "ingest", *batch).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    for args in (["ingest", *batch], ["detect"]):
        done = _curate(workspace, *args)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert "cannot write" in done.stderr and "Read-only file system" in done.stderr
    status = _curate(workspace, "status", "--json")  # reading still works
    assert status.returncode == 0 and json.loads(status.stdout)["records"] == 600
