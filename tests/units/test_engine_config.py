"""Which engine runs, from [engine], the command line and the environment, and what it says it
is; a Ray address nothing listens at is refused at once."""

from __future__ import annotations

import socket

import pytest

from curate.core.engine import (
    ENV_RAY_ADDRESS,
    FILES_PER_TASK,
    PARTITION_ROWS,
    Engine,
    _check_reachable,
)
from curate.core.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_address(monkeypatch):
    monkeypatch.delenv(ENV_RAY_ADDRESS, raising=False)


def test_the_default_is_local_with_the_default_sizes():
    engine = Engine.from_config({})
    assert engine == Engine(
        kind="local", ray_address=None, partition_rows=250_000, files_per_task=16
    )
    assert (PARTITION_ROWS, FILES_PER_TASK) == (250_000, 16)
    assert not engine.distributed and engine.describe() == "local (polars, this machine)"


def test_the_section_sets_the_sizes_and_s3():
    section = {"kind": "daft", "partition_rows": "1000", "files_per_task": 4, "s3": {"region": "x"}}
    engine = Engine.from_config(section)
    assert (engine.kind, engine.partition_rows, engine.files_per_task) == ("daft", 1000, 4)
    assert engine.s3 == {"region": "x"} and engine.s3 is not section["s3"]
    assert engine.distributed and engine.describe() == "daft (this machine)"


@pytest.mark.parametrize(
    ("section", "kind", "address", "env", "expected"),
    [
        ({}, None, "10.0.0.5:6379", None, ("daft", "10.0.0.5:6379")),  # an address means daft
        ({}, None, None, "10.0.0.6:6379", ("daft", "10.0.0.6:6379")),
        ({"ray_address": "10.0.0.7:6379"}, None, None, None, ("daft", "10.0.0.7:6379")),
        # the command line over the environment over the section
        ({"ray_address": "s:1"}, None, "c:1", "e:1", ("daft", "c:1")),
        ({"ray_address": "s:1"}, None, None, "e:1", ("daft", "e:1")),
        # a cluster configured for daft runs is not used by a local one
        ({"ray_address": "s:1"}, "local", None, None, ("local", None)),
        ({"kind": "local", "ray_address": "s:1"}, None, None, None, ("local", None)),
        ({"kind": "local"}, "daft", None, None, ("daft", None)),
        ({"ray_address": ""}, None, None, None, ("local", None)),
    ],
)
def test_which_engine_and_where(monkeypatch, section, kind, address, env, expected):
    if env:
        monkeypatch.setenv(ENV_RAY_ADDRESS, env)
    engine = Engine.from_config(section, kind=kind, ray_address=address)
    assert (engine.kind, engine.ray_address) == expected


def test_a_cluster_says_where_it_is():
    engine = Engine(kind="daft", ray_address="10.0.0.5:6379")
    assert engine.describe() == "daft (the Ray cluster at 10.0.0.5:6379)"


def test_contradictions_are_refused():
    with pytest.raises(ConfigError) as raised:
        Engine.from_config({}, kind="spark")
    assert str(raised.value) == "unknown engine 'spark': choose one of local, daft"
    with pytest.raises(ConfigError, match="unknown engine 'ray'"):
        Engine.from_config({"kind": "ray"})
    with pytest.raises(ConfigError) as raised:
        Engine.from_config({}, kind="local", ray_address="10.0.0.5:6379")
    assert str(raised.value) == (
        "--ray-address 10.0.0.5:6379 runs the daft engine, but the engine asked for is local: "
        "drop one of them"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_address_nothing_listens_at_is_refused_at_once():
    port = _free_port()
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}", f":{port}"):
        with pytest.raises(ConfigError) as raised:
            _check_reachable(address)
        assert str(raised.value).startswith(f"no Ray cluster answers at {address} (")
    with pytest.raises(ConfigError) as raised:
        _check_reachable("10.0.0.5")
    assert str(raised.value) == "Ray address '10.0.0.5': give HOST:PORT, e.g. 10.0.0.5:6379"
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        _check_reachable(f"127.0.0.1:{server.getsockname()[1]}")  # something listens: fine
        _check_reachable(f":{server.getsockname()[1]}")  # no host: this machine


def test_the_message_for_no_cluster_says_what_to_do():
    port = _free_port()
    with pytest.raises(ConfigError) as raised:
        _check_reachable(f"127.0.0.1:{port}")
    assert str(raised.value).endswith(
        "). Start one (`ray start --head`; docs/scale.md), or check the address: HOST:PORT of the "
        "head's GCS, default port 6379, or ray://HOST:10001 for Ray Client."
    )
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        _check_reachable(f"ray://127.0.0.1:{server.getsockname()[1]}")  # Ray Client's form
