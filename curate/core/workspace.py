"""The workspace: a folder of Parquet tables and a manifest, shared by every stage.

Stages never call each other; they meet here. Writes are atomic (temp file + rename) and a
lock keeps two curate processes from writing one workspace at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import filelock
import orjson
import polars as pl

from curate.core import tables
from curate.core.errors import MissingTableError, WorkspaceError, WorkspaceLocked

SCHEMA_VERSION = 1
# How record_id names a record. 2: one call (two models answering one request are two records);
# 1 (a manifest without the key): the format's native id, which for Batch files and tables
# named the request.
RECORD_IDENTITY = 2
DEFAULT_DIRNAME = ".curate"
CONFIG_NAME = "curate.toml"
ENV_WORKSPACE = "CURATE_WORKSPACE"
ENV_LOCK_TIMEOUT = "CURATE_LOCK_TIMEOUT"


def now_utc() -> datetime:
    return datetime.now(UTC)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old content or the new, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def find_config(start: Path | None = None) -> Path | None:
    """The nearest curate.toml in `start` or its parents, or None."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


MANIFEST_KEYS = {"schema_version": int, "sources": list, "runs": list}


def manifest_problem(manifest: Any) -> str | None:
    """Why a parsed manifest cannot be used (not an object, a key missing), or None."""
    if not isinstance(manifest, dict):
        return f"a JSON {type(manifest).__name__}, not an object"
    for key, kind in MANIFEST_KEYS.items():
        if not isinstance(manifest.get(key), kind):
            return f"`{key}` is missing or not a {kind.__name__}"
    return None


def configured_root(config_path: Path, data: dict[str, Any] | None = None) -> Path:
    """The workspace curate.toml names: its `workspace` key, relative to curate.toml, else
    `.curate` beside it. `data` is the file's parsed content when the caller has it."""
    if data is None:
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}  # loading the config itself says what is wrong with the file
    named = data.get("workspace")
    if not isinstance(named, str) or not named.strip():
        return config_path.parent / DEFAULT_DIRNAME
    return config_path.parent / Path(named).expanduser()


_LOCKS: dict[str, filelock.FileLock] = {}


def lock_timeout() -> float:
    """Seconds to wait for the workspace lock: CURATE_LOCK_TIMEOUT, default 10."""
    text = os.environ.get(ENV_LOCK_TIMEOUT, "").strip()
    if not text:
        return 10.0
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise WorkspaceError(
            f"{ENV_LOCK_TIMEOUT}={text!r}: give the seconds to wait for the workspace lock, "
            "a number >= 0 (e.g. 30), or unset it for the default of 10"
        )
    return value


class Workspace:
    """A workspace folder: `records/`, `quarantine/`, ... and `manifest.json`."""

    def __init__(self, root: Path | str, config_path: Path | None = None):
        self.root = Path(root).resolve()
        self.config_path = config_path

    # -- where things are --------------------------------------------------------------------
    @classmethod
    def locate(
        cls, workspace: str | Path | None = None, config: str | Path | None = None
    ) -> Workspace:
        """Resolve the workspace: --workspace, else CURATE_WORKSPACE, else the `workspace`
        key of curate.toml (relative to it), else `.curate` next to curate.toml.

        curate.toml is --config, else the nearest one in the current folder or its parents.
        Without either, the workspace is ./.curate.
        """
        config_path = Path(config).resolve() if config else find_config()
        if workspace is None:
            workspace = os.environ.get(ENV_WORKSPACE) or None
        if workspace is not None:
            return cls(Path(workspace), config_path)
        if config_path is not None:
            return cls(configured_root(config_path), config_path)
        return cls(Path.cwd() / DEFAULT_DIRNAME, None)

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def table_dir(self, name: str) -> Path:
        return self.root / name

    @property
    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def create(self) -> bool:
        """Create the folder and an empty manifest; False when it existed already."""
        if self.exists:
            return False
        self.root.mkdir(parents=True, exist_ok=True)
        for table in ("records", "quarantine"):
            self.table_dir(table).mkdir(exist_ok=True)
        self.write_manifest(
            {
                "schema_version": SCHEMA_VERSION,
                "record_identity": RECORD_IDENTITY,
                "created_at": now_utc().isoformat(),
                "sources": [],
                "runs": [],
            }
        )
        return True

    def require(self) -> None:
        if not self.exists:
            raise WorkspaceError(
                f"no curate workspace at {self.root}: run `curate init` in your project folder, "
                f"or point --workspace / {ENV_WORKSPACE} at an existing one"
            )

    # -- manifest ------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        self.require()
        try:
            manifest = orjson.loads(self.manifest_path.read_bytes())
        except (OSError, json.JSONDecodeError) as exc:
            raise WorkspaceError(
                f"{self.manifest_path} cannot be read ({exc}); restore it from a backup or move "
                "the workspace aside and re-run `curate init` and `curate ingest`"
            ) from exc
        version = manifest.get("schema_version") if isinstance(manifest, dict) else None
        if isinstance(version, int) and version != SCHEMA_VERSION:  # another curate's: as is
            raise WorkspaceError(
                f"{self.manifest_path} has schema_version {version!r}; this curate reads "
                f"{SCHEMA_VERSION}. Use the curate version that wrote it, or start a new workspace."
            )
        problem = manifest_problem(manifest)
        if problem:
            raise WorkspaceError(
                f"{self.manifest_path} is damaged: {problem}. `curate doctor --fix` moves it "
                "aside and writes an empty one (the records are kept; a re-ingest adds nothing "
                "twice)"
            )
        return manifest

    def require_record_identity(self, request_id_formats: set[str]) -> None:
        """Before adding records: a workspace whose records are named as this curate names them.

        A workspace written before records were named by their call holds Batch and table
        records named by their request id; new ones would be named otherwise, and the same file
        ingested again would be counted twice. Such a workspace is refused with what to do (it
        still reads as before); one with no records of those formats is marked current.
        """
        manifest = self.manifest()
        if manifest.get("record_identity", 1) == RECORD_IDENTITY:
            return
        stale = sorted({s.get("format") for s in manifest["sources"]} & request_id_formats)
        if stale:
            raise WorkspaceError(
                f"{self.root} was written by an earlier curate, which named its "
                f"{' and '.join(stale)} records by their request id (a Batch custom_id, a "
                "table's id column); this curate names each call, so that a second model's "
                "answers to the same requests are kept. Adding logs here would count the same "
                "calls twice. The workspace still reads as before (detect, balance, report); to "
                f"add logs, move {self.root} aside and ingest every log again into a new one "
                "(`curate run` does it from curate.toml's [[sources]])."
            )
        manifest["record_identity"] = RECORD_IDENTITY
        self.write_manifest(manifest)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        # orjson: the manifest is rewritten at every source's commit, and a run over thousands of
        # files makes it large (the standard json module made that quadratic cost dominate)
        data = orjson.dumps(manifest, default=str, option=orjson.OPT_INDENT_2) + b"\n"
        atomic_write_bytes(self.manifest_path, data)

    def record_run(self, stage: str, started: datetime, args: dict[str, Any], counts: dict) -> None:
        """Append a stage run to the manifest (who ran what, when, with which result)."""
        with self.lock(stage):  # a read-modify-write of the manifest: never two at once
            manifest = self.manifest()
            manifest["runs"].append(
                {
                    "stage": stage,
                    "started_at": started.isoformat(),
                    "finished_at": now_utc().isoformat(),
                    "args": args,
                    "counts": counts,
                }
            )
            self.write_manifest(manifest)

    @contextlib.contextmanager
    def stage(self, name: str, args: dict[str, Any] | None = None) -> Iterator[StageRun]:
        """Run a writing stage: hold the lock, stage its tables, and on success commit them
        together (one journalled commit) and record the run in the manifest.

        A stage that fails commits nothing and records nothing: its staged tables are removed.
        """
        with self.lock(name):
            run = StageRun(self, name, dict(args or {}))
            try:
                yield run
            except BaseException:
                run.discard()
                raise
            run.finish()

    # -- commits -------------------------------------------------------------------------------
    @property
    def journal_dir(self) -> Path:
        return self.root / "journal"

    def commit(self, moves: list[tuple[Path, Path]], sources: list[dict[str, Any]]) -> None:
        """Move staged files into their tables and add manifest source entries, as one unit.

        The intent is written first (a journal file); a run killed half-way is rolled forward
        by the next command that takes the lock (`recover`), so a reader never keeps records
        without their quarantine rows or manifest entry.
        """
        entry = {
            "id": uuid.uuid4().hex,
            "moves": [[str(src), str(dst)] for src, dst in moves],
            "sources": sources,
        }
        path = self.journal_dir / f"{entry['id']}.json"
        with self.lock("commit"):
            atomic_write_bytes(path, json.dumps(entry, default=str).encode())
            self._apply(entry)
            path.unlink()

    def _apply(self, entry: dict[str, Any]) -> None:
        for src, dst in entry["moves"]:
            if Path(src).exists():
                Path(dst).parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
        if entry["sources"]:
            manifest = self.manifest()
            done = {s.get("commit") for s in manifest["sources"]}
            if entry["id"] not in done:
                manifest["sources"] += [s | {"commit": entry["id"]} for s in entry["sources"]]
                self.write_manifest(manifest)

    def recover(self) -> int:
        """Finish the commits an interrupted run had started, and remove the tables a stage
        staged but never committed (it was killed first); the number of commits finished."""
        finished = 0
        for path in sorted(self.journal_dir.glob("*.json")) if self.journal_dir.is_dir() else []:
            try:
                entry = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                path.unlink(missing_ok=True)  # written half: the commit had not begun
                continue
            self._apply(entry)
            path.unlink()
            finished += 1
        # what is still staged belongs to no commit (journalled ones were moved just above),
        # and no stage runs: this process holds the lock
        for stale in self.root.glob(".*.staged"):
            stale.unlink(missing_ok=True)
        return finished

    # -- lock ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, command: str, timeout: float | None = None) -> Iterator[None]:
        """Hold the workspace lock; wait up to `timeout` seconds, then fail with who holds it.

        Taking it first finishes any commit an interrupted run left half-done.
        """
        if timeout is None:
            timeout = lock_timeout()
        self.root.mkdir(parents=True, exist_ok=True)
        info_path = self.root / "lock.info"
        path = str(self.root / ".lock")
        # one lock object per workspace in this process: taking it again inside is free, so a
        # stage's lock and the manifest updates it makes nest
        lock = _LOCKS.setdefault(path, filelock.FileLock(path))
        try:
            lock.acquire(timeout=timeout)
        except filelock.Timeout:
            holder = "another curate process"
            with contextlib.suppress(OSError, json.JSONDecodeError):
                info = json.loads(info_path.read_text())
                holder = f"`curate {info['command']}` (pid {info['pid']}, since {info['since']})"
            raise WorkspaceLocked(
                f"the workspace {self.root} is locked by {holder}. Wait for it to finish and "
                f"run this again (or raise {ENV_LOCK_TIMEOUT}, now {timeout:g} s, to wait longer)."
            ) from None
        outermost = lock.lock_counter == 1
        try:
            if outermost:
                info = {"pid": os.getpid(), "command": command, "since": now_utc().isoformat()}
                atomic_write_bytes(info_path, json.dumps(info).encode())
                if self.exists:
                    self.recover()
            yield
        finally:
            if outermost:
                with contextlib.suppress(FileNotFoundError):
                    info_path.unlink()
            lock.release()

    # -- tables --------------------------------------------------------------------------------
    def part_path(self, table: str) -> Path:
        """A fresh, sortable file name for a new part of an append-only table, in the folder
        of today's date (UTC): `records/date=2026-11-29/part-...parquet`. The Hive-style
        folders let polars, Daft, DuckDB or Spark read a table as one partitioned dataset and
        skip the days a query does not need."""
        ns = time.time_ns()  # to the nanosecond: the parts of one commit keep their order
        now = time.gmtime(ns // 1_000_000_000)
        day = time.strftime("%Y-%m-%d", now)
        stamp = f"{time.strftime('%Y%m%dT%H%M%S', now)}.{ns % 1_000_000_000:09d}"
        name = f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        folder = self.table_dir(table) / f"date={day}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    def parts(self, table: str) -> list[Path]:
        """The table's Parquet parts, oldest first (parts from before the dated folders, at
        the top of the table's folder, are read too)."""
        folder = self.table_dir(table)
        if not folder.is_dir():
            return []
        found = [*folder.glob("part-*.parquet"), *folder.glob("date=*/part-*.parquet")]
        return sorted(found, key=lambda p: p.name)

    def scan(self, table: str) -> pl.LazyFrame:
        """Lazy scan of an append-only table (empty, with its schema, when it has no parts)."""
        schema = tables.table(table).schema
        parts = self.parts(table)
        if not parts:
            return pl.LazyFrame(schema=schema)
        # parts written before a column (or a message's tool_calls) was added to the schema
        # read it as missing values; the date of a part's folder is not a column
        return pl.scan_parquet(
            parts,
            schema=schema,
            missing_columns="insert",
            cast_options=pl.ScanCastOptions(missing_struct_fields="insert"),
            hive_partitioning=False,
        )

    def scan_records(self) -> pl.LazyFrame:
        return self.scan("records")

    def records_of(self, ids: pl.DataFrame, *columns: str | pl.Expr) -> pl.DataFrame:
        """The records whose record_id is in `ids` (candidates, findings: a frame with a
        record_id column), with `columns` (names or expressions), in the records' order."""
        return (
            self.scan_records()
            .join(ids.lazy().select("record_id").unique(), on="record_id", how="semi")
            .select(*columns)
            .collect()
        )

    def table_path(self, name: str) -> Path:
        return self.root / tables.table(name).file_name

    def has_table(self, name: str) -> bool:
        """The stage that writes the table has run (an append-only table: it has a part)."""
        if tables.table(name).parts:
            return bool(self.parts(name))
        return self.table_path(name).is_file()

    def write_table(self, name: str, frame: pl.DataFrame) -> None:
        """Replace a whole-file table (findings, candidates, annotations, ...) atomically, in
        its registered schema (schemas/NAME.schema.json)."""
        schema = tables.table(name).schema
        path = self.table_path(name)
        tmp = path.with_name(f".{path.name}.tmp")
        frame.select(schema.names()).cast(dict(schema)).write_parquet(tmp)
        os.replace(tmp, path)

    def read_table(
        self, name: str, *, needed_by: str | None = None, empty: bool = False
    ) -> pl.DataFrame:
        """A table in its registered schema. When its stage has not run: an empty frame with
        `empty`, else a MissingTableError that says what to run (before `needed_by`)."""
        spec = tables.table(name)
        if not self.has_table(name):
            if empty:
                return spec.schema.to_frame()
            raise MissingTableError(name, spec.how, needed_by)
        if spec.parts:
            return self.scan(name).collect()
        frame = pl.read_parquet(self.table_path(name))
        # a table written before a column was added to its schema reads it as missing values
        missing = [
            pl.lit(None, dtype).alias(c) for c, dtype in spec.schema.items() if c not in frame
        ]
        return frame.with_columns(missing).select(spec.schema.names()) if missing else frame

    def record_ids(self) -> pl.DataFrame:
        """Every record_id in the workspace, as a one-column frame (for anti-joins)."""
        return self.scan_records().select("record_id").collect()


class StageRun:
    """One run of a writing stage (see Workspace.stage): the tables it writes and its counts."""

    def __init__(self, workspace: Workspace, name: str, args: dict[str, Any]):
        self.workspace, self.name, self.args = workspace, name, args
        self.started = now_utc()
        self.counts: dict[str, Any] = {}
        self._staged: dict[str, Path] = {}

    def write(self, table: str, frame: pl.DataFrame, sort_by: list[str] | None = None) -> None:
        """Stage a whole-file table, in its registered schema (its rows in the order of
        `sort_by`, if given); it replaces the table at commit."""
        schema = tables.table(table).schema
        path = self.workspace.table_path(table)
        staged = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.staged")
        frame = frame.select(schema.names()).cast(dict(schema))
        if sort_by is None or frame.height == 0:
            frame.write_parquet(staged)
        else:
            tables.write_sorted(frame, sort_by, staged)
        self._staged[table] = staged

    def finish(self) -> None:
        if self._staged:
            moves = [(src, self.workspace.table_path(t)) for t, src in self._staged.items()]
            self.workspace.commit(moves, [])
            self._staged.clear()
        self.workspace.record_run(self.name, self.started, self.args, self.counts)

    def discard(self) -> None:
        for path in self._staged.values():
            path.unlink(missing_ok=True)
        self._staged.clear()
