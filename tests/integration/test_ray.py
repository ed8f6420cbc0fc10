"""detect on the real Ray cluster `make test` starts (scripts/ray_cluster.sh: a head and a
worker on 127.0.0.1): the same findings, labels and counts as the local engine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from curate.detect.stage import find_failures
from tests.conftest import unavailable
from tests.core.test_engine import sample_project

RAY_ADDRESS = os.environ.get("CURATE_TEST_RAY_ADDRESS", "127.0.0.1:6390")


@pytest.fixture(scope="session")
def ray_address() -> str:
    """The Ray cluster `make test` started. In CI its absence fails the run."""
    host, port = RAY_ADDRESS.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError:
        message = (
            f"no Ray cluster at {RAY_ADDRESS}: run `scripts/ray_cluster.sh up` (make test does)"
        )
        unavailable(message)
    return RAY_ADDRESS


def curate(project, *args: str) -> dict:
    """`curate ... --json` in its own process (Daft takes one runner per process)."""
    env = os.environ | {"RAY_AUTH_MODE": "token"}  # the cluster requires Ray's token
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "curate",
            "--workspace",
            str(project.workspace.root),
            "--config",
            str(project.workspace.config_path),
            *args,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_detect_on_the_ray_cluster_equals_local(tmp_path, ray_address):
    project = sample_project(tmp_path)
    local = find_failures(project).to_dict()
    findings = project.workspace.read_table("findings")
    labels = project.workspace.read_table("labels")
    on_ray = curate(project, "detect", "--engine", "daft", "--ray-address", ray_address)
    assert on_ray.pop("engine") == f"daft (the Ray cluster at {ray_address})"
    local.pop("engine")
    assert on_ray == json.loads(json.dumps(local))
    assert project.workspace.read_table("findings").equals(findings)
    assert project.workspace.read_table("labels").equals(labels)
    # the cluster it ran on had its two nodes (head and worker) alive
    status = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "ray"),
            "status",
            f"--address={ray_address}",
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"RAY_AUTH_MODE": "token"},
        check=False,
    )
    assert status.stdout.count("node_") == 2, status.stdout + status.stderr
