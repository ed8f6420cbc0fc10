"""Where the heavy work runs: polars on this machine (`local`), or Daft (`daft`), on all local
cores or on a Ray cluster.

The stages do not know the engine. They hand it a plain function over a polars frame (records
in, named tables out) and say which column keeps rows together; the local engine calls it once
on everything, Daft calls it on each partition of the workspace's Parquet shards and the
tables come back concatenated. The same function, so the same answers (tests/core/test_engine.py
checks them row for row).

    [engine]
    kind = "daft"                    # or "local", the default; `--engine` overrides it
    ray_address = "127.0.0.1:6379"   # optional: run Daft on this Ray cluster
"""

from __future__ import annotations

import io
import math
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from curate.core.errors import ConfigError

KINDS = ("local", "daft")
ENV_RAY_ADDRESS = "CURATE_RAY_ADDRESS"
PARTITION_ROWS = 250_000
# the local engine's partitions: rows past this are read and handled a partition at a time
LOCAL_PARTITION_ROWS = 500_000
FILES_PER_TASK = 16

# a function over one partition: a polars frame in, named tables out
PartitionFn = Callable[[pl.DataFrame], dict[str, pl.DataFrame]]


@dataclass(frozen=True)
class Engine:
    kind: str = "local"
    ray_address: str | None = None
    partition_rows: int = PARTITION_ROWS
    files_per_task: int = FILES_PER_TASK
    s3: dict[str, Any] = field(default_factory=dict)
    local_partition_rows: int = LOCAL_PARTITION_ROWS

    @classmethod
    def from_config(
        cls, section: dict[str, Any], kind: str | None = None, ray_address: str | None = None
    ) -> Engine:
        """The [engine] section, with `--engine` / `--ray-address` (or CURATE_RAY_ADDRESS)
        over it. A Ray address makes the engine daft unless local is asked for; asking for
        both local and an address on the command line is an error."""
        chosen = kind or section.get("kind")
        if chosen is not None and chosen not in KINDS:
            raise ConfigError(f"unknown engine {chosen!r}: choose one of {', '.join(KINDS)}")
        if ray_address and chosen == "local":
            raise ConfigError(
                f"--ray-address {ray_address} runs the daft engine, but the engine asked for is "
                "local: drop one of them"
            )
        address = ray_address or os.environ.get(ENV_RAY_ADDRESS) or section.get("ray_address")
        kind = chosen or ("daft" if address else "local")
        if kind == "local":
            address = None  # a cluster configured for daft runs is not used by local ones
        return cls(
            kind=kind,
            ray_address=address or None,
            partition_rows=int(section.get("partition_rows", PARTITION_ROWS)),
            files_per_task=int(section.get("files_per_task", FILES_PER_TASK)),
            s3=dict(section.get("s3", {})),
            local_partition_rows=max(
                int(section.get("local_partition_rows", LOCAL_PARTITION_ROWS)), 1
            ),
        )

    @property
    def distributed(self) -> bool:
        return self.kind == "daft"

    def describe(self) -> str:
        if self.kind == "local":
            return "local (polars, this machine)"
        where = f"the Ray cluster at {self.ray_address}" if self.ray_address else "this machine"
        return f"daft ({where})"

    # -- running functions -----------------------------------------------------------------
    def map_partitions(
        self,
        files: list[Path],
        schema: pl.Schema,
        fn: PartitionFn,
        *,
        key: str,
        rows: int,
    ) -> dict[str, list[pl.DataFrame]]:
        """`fn` over the rows of these Parquet files (read in `schema`), in partitions that
        keep rows with equal `key` together; the tables each call returned, by name.

        Local: one call over all rows, or, past `local_partition_rows`, one call per
        partition of about that many rows (rows hashed by `key`), each read when its turn
        comes, so memory holds one partition. Daft: about `partition_rows` rows per call, at
        least two per core, spread over the cores or the Ray cluster.
        """
        if not files:
            return {}
        if self.kind == "local":
            scan = pl.scan_parquet(
                files,
                schema=schema,
                missing_columns="insert",
                extra_columns="ignore",
                cast_options=pl.ScanCastOptions(missing_struct_fields="insert"),
                hive_partitioning=False,
                parallel="prefiltered",  # a partition's rows decoded, not every row each time
            )
            parts = math.ceil(rows / self.local_partition_rows)
            if parts <= 1:
                return {name: [table] for name, table in fn(scan.collect()).items()}
            out: dict[str, list[pl.DataFrame]] = {}
            bucket = pl.col(key).hash() % parts
            for part in range(parts):
                for name, table in fn(scan.filter(bucket == part).collect()).items():
                    out.setdefault(name, []).append(table)
            return out
        return _daft_partitions(self, files, schema, fn, key, rows)

    def map_frame(
        self, frame: pl.DataFrame, fn: PartitionFn, *, key: str
    ) -> dict[str, list[pl.DataFrame]]:
        """`fn` over an in-memory frame, in partitions that keep rows with equal `key`
        together (as map_partitions); local: one call over the whole frame."""
        if self.kind == "local":
            return {name: [table] for name, table in fn(frame).items()}
        if frame.height == 0:
            return {}
        daft = load_daft(self)
        return _run_partitioned(
            self, daft.from_arrow(frame.to_arrow()), frame.schema, fn, key, frame.height
        )

    def map_items(self, items: list[Any], fn: Callable[[Any], Any]) -> Iterator[Any]:
        """`fn(item)` for each item, results in the items' order. Local: one after another,
        here. Daft: `files_per_task` items per task, spread over the cores or the cluster;
        results come back a window of tasks at a time, so memory holds one window."""
        if self.kind == "local":
            yield from map(fn, items)
            return
        yield from _daft_items(self, items, fn)

    # -- object stores ---------------------------------------------------------------------
    def io_config(self) -> Any:
        """Daft's IOConfig for s3:// paths: [engine.s3] over the AWS_* environment."""
        from daft.io import IOConfig, S3Config

        s3 = self.s3
        endpoint = s3.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
        return IOConfig(
            s3=S3Config(
                endpoint_url=endpoint,
                region_name=s3.get("region") or os.environ.get("AWS_REGION") or "us-east-1",
                key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
                access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
                session_token=os.environ.get("AWS_SESSION_TOKEN"),
                anonymous=s3.get("anonymous"),
                # an endpoint that accepts connections and never answers must fail, not hang
                connect_timeout_ms=int(1000 * s3.get("timeout_s", S3_TIMEOUT_S)),
                read_timeout_ms=int(1000 * s3.get("timeout_s", S3_TIMEOUT_S)),
                num_tries=int(s3.get("tries", S3_TRIES)),
                retry_initial_backoff_ms=200,
            )
        )


S3_TIMEOUT_S = 10
S3_TRIES = 3


def is_remote(path: str | Path) -> bool:
    return isinstance(path, str) and path.startswith(("s3://", "s3a://", "gs://", "az://"))


# -- Daft ------------------------------------------------------------------------------------
_RUNNER: list[str] = []  # the runner this process set ("native" or the Ray address)


def load_daft(engine: Engine):
    """Daft, with its runner set for this engine (Daft allows one runner per process)."""
    os.environ.setdefault("DAFT_ANALYTICS_ENABLED", "0")  # no telemetry from users' machines
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("DAFT_PROGRESS_BAR", "0")  # curate shows its own progress
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import daft
    except ImportError:
        raise ConfigError(
            "the daft engine needs Daft (and Ray for a cluster): pip install 'curate[scale]'"
        ) from None

    wanted = engine.ray_address or "native"
    if not _RUNNER:
        if engine.ray_address:
            _check_reachable(engine.ray_address)
        try:
            if engine.ray_address:
                import ray

                # workers' own logs and progress bars stay in the cluster's log files
                quiet = {"DAFT_PROGRESS_BAR": "0", "DAFT_ANALYTICS_ENABLED": "0"}
                ray.init(
                    address=engine.ray_address,
                    logging_level="ERROR",
                    log_to_driver=False,
                    runtime_env={"env_vars": quiet},
                )
                daft.set_runner_ray(noop_if_initialized=True)  # the context just made
            else:
                daft.set_runner_native()
        except Exception as exc:  # ConnectionError, ray's own, daft's DaftCoreException ...
            raise ConfigError(
                f"cannot start the daft engine on {wanted}: {exc}. Is the Ray cluster up "
                "(`ray status`)? Unset ray_address to run Daft on this machine."
            ) from None
        _RUNNER.append(wanted)
    elif _RUNNER[0] != wanted:
        raise ConfigError(
            f"this process already runs Daft on {_RUNNER[0]}; Daft cannot switch to {wanted} "
            "in the same process: run the command again in a new one"
        )
    return daft


def _check_reachable(address: str) -> None:
    """A ConfigError now when nothing listens at the address: Ray itself retries for minutes."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not port.isdigit():
        raise ConfigError(f"Ray address {address!r}: give HOST:PORT, e.g. 10.0.0.5:6379")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except OSError as exc:
        raise ConfigError(
            f"no Ray cluster answers at {address} ({exc}). Start one (`ray start --head`; "
            "docs/scale.md), or check the address: HOST:PORT of the head's GCS, default port "
            "6379, or ray://HOST:10001 for Ray Client."
        ) from None


def _cores(engine: Engine) -> int:
    if engine.ray_address:
        import ray

        return max(1, int(ray.cluster_resources().get("CPU", 1)))
    return os.cpu_count() or 1


def _ipc(frame: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.write_ipc(out, compression="uncompressed")
    return out.getvalue()


def _daft_partitions(
    engine: Engine,
    files: list[Path],
    schema: pl.Schema,
    fn: PartitionFn,
    key: str,
    rows: int,
) -> dict[str, list[pl.DataFrame]]:
    daft = load_daft(engine)
    frame = daft.read_parquet(
        [str(f) for f in files],
        schema={c: daft.DataType.from_arrow_type(t) for c, t in _arrow_schema(schema).items()},
        infer_schema=False,
    ).select(*schema.names())
    return _run_partitioned(engine, frame, schema, fn, key, rows)


def _run_partitioned(
    engine: Engine, frame: Any, schema: pl.Schema, fn: PartitionFn, key: str, rows: int
) -> dict[str, list[pl.DataFrame]]:
    """`fn` over each hash partition of `key` of a Daft frame; the tables, by name."""
    daft = load_daft(engine)
    names = list(schema.names())
    partitions = max(2 * _cores(engine), math.ceil(rows / engine.partition_rows))
    out_type = daft.DataType.struct(
        {"table": daft.DataType.string(), "data": daft.DataType.binary()}
    )

    @daft.func.batch(return_dtype=out_type)
    def run(*columns):
        import pyarrow as pa

        table = pa.table({n: c.to_arrow() for n, c in zip(names, columns, strict=True)})
        part = pl.from_arrow(table).cast(dict(schema))  # type: ignore[union-attr]
        return [{"table": n, "data": _ipc(t)} for n, t in fn(part).items()]

    # a partition is every row whose key hashes to it: equal keys stay together
    frame = frame.with_column("_partition", frame[key].hash() % partitions)
    done = frame.groupby("_partition").map_groups(run(*[frame[c] for c in names]))
    out: dict[str, list[pl.DataFrame]] = {}
    # partition by partition: the serialized tables are dropped as soon as they are read
    for batch in done.select(done[names[0]].alias("out")).to_arrow_iter():
        column = batch.column(0)
        tables, blobs = column.field("table"), column.field("data")
        for i in range(len(column)):
            data = io.BytesIO(blobs[i].as_py())
            out.setdefault(tables[i].as_py(), []).append(pl.read_ipc(data))
    return out


def _arrow_schema(schema: pl.Schema) -> dict[str, Any]:
    arrow = schema.to_frame().to_arrow().schema
    return {f.name: f.type for f in arrow}


def _daft_items(engine: Engine, items: list[Any], fn: Callable[[Any], Any]) -> Iterator[Any]:
    """A window of tasks at a time; the next window runs while the caller takes this one's."""
    from concurrent.futures import ThreadPoolExecutor

    daft = load_daft(engine)
    per_task = engine.files_per_task
    window = per_task * max(2, 2 * _cores(engine))

    @daft.func(return_dtype=daft.DataType.binary())
    def call(payload: bytes) -> bytes:
        return pickle.dumps(fn(pickle.loads(payload)), protocol=pickle.HIGHEST_PROTOCOL)

    def run(chunk: list[Any]) -> list[bytes]:
        frame = daft.from_pydict(
            {"i": list(range(len(chunk))), "payload": [pickle.dumps(item) for item in chunk]}
        )
        if engine.ray_address:  # the native runner spreads a UDF's calls over threads itself
            frame = frame.into_partitions(max(1, math.ceil(len(chunk) / per_task)))
        done = frame.select("i", call(frame["payload"]).alias("result")).sort("i")
        return done.to_pydict()["result"]

    chunks = [items[i : i + window] for i in range(0, len(items), window)]
    with ThreadPoolExecutor(1, thread_name_prefix="curate-daft") as pool:
        ahead = pool.submit(run, chunks[0]) if chunks else None
        for k in range(len(chunks)):
            assert ahead is not None
            results = ahead.result()
            ahead = pool.submit(run, chunks[k + 1]) if k + 1 < len(chunks) else None
            results.reverse()
            while results:  # each result's bytes are dropped once it is read
                yield pickle.loads(results.pop())


__all__ = ["KINDS", "Engine", "is_remote"]
