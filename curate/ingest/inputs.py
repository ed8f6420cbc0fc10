"""What `curate ingest` reads: local paths and globs, and objects in a store (s3://...).

A glob is expanded by curate itself (quote it: `'logs/**/*.jsonl.gz'`), so thousands of files
need no shell's argument list. Objects are listed and read through Daft's IO (credentials and
endpoint as engine.py says); each is copied to a temporary file and read exactly like a local
file, so its quarantine, line numbers and sha256 are the same as a local copy's.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from curate.core.engine import Engine, is_remote
from curate.core.errors import InputError

GLOB_CHARS = set("*?[")


def has_glob(path: str) -> bool:
    return bool(GLOB_CHARS & set(path))


def expand_inputs(paths: list[str | Path], engine: Engine) -> list[str | Path]:
    """Each path, with globs expanded (sorted, no file twice, however many ways it is named:
    links are followed to one file); remote globs are listed."""
    out: list[str | Path] = []
    for raw in paths:
        path = str(raw)
        if is_remote(path):
            out += _list_remote(path, engine) if has_glob(path) else [path]
        elif has_glob(path) and not Path(path).exists():
            found = sorted(p for p in glob.glob(path, recursive=True) if Path(p).is_file())
            if not found:
                raise InputError(f"{path}: no file matches this pattern. Check the folder.")
            out += [Path(p) for p in found]
        else:
            out.append(raw)
    seen: set[object] = set()
    return [p for p in out if not (_identity(p) in seen or seen.add(_identity(p)))]


def _identity(path: str | Path) -> object:
    """What makes two paths one file: the device and inode of a local file (a glob through a
    symlink loop, or a link beside its target, names one file many ways), else the text."""
    if isinstance(path, Path) or not is_remote(str(path)):
        with contextlib.suppress(OSError):
            stat = os.stat(path)
            return (stat.st_dev, stat.st_ino)
    return str(path)


def _list_remote(pattern: str, engine: Engine) -> list[str]:
    from curate.core.engine import load_daft

    daft = load_daft(engine)
    try:
        listed = daft.from_glob_path(pattern, io_config=engine.io_config()).to_pydict()
    except FileNotFoundError:
        listed = {"path": []}
    except Exception as exc:  # daft's IO errors: credentials, endpoint, bucket
        if "MicroPartition" in str(exc):  # what Daft 0.7 raises when nothing matches
            listed = {"path": []}
        else:
            raise InputError(
                f"{pattern}: cannot be listed ({_first_line(exc)}{_at(engine)}). {_S3_HINT}"
            ) from None
    found = sorted(p for p in listed["path"] if not p.endswith("/"))
    if not found:
        raise InputError(f"{pattern}: no object matches this pattern. Check the bucket and prefix.")
    return found


_S3_HINT = (
    "Check the URL, the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and, for an "
    "S3-compatible store, [engine.s3] endpoint_url (or AWS_ENDPOINT_URL)."
)


def _at(engine: Engine) -> str:
    """Which endpoint was asked, when it is not AWS's own."""
    endpoint = engine.s3.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
    return f" at {endpoint}" if endpoint else ""


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


@contextlib.contextmanager
def local_copy(url: str, engine: Engine) -> Iterator[Path]:
    """The object at `url` as a temporary local file (its name kept: .gz, .csv and .parquet
    still tell the format), removed afterwards."""
    from curate.core.engine import load_daft

    daft = load_daft(engine)
    folder = Path(tempfile.mkdtemp(prefix="curate-object-"))
    target = folder / (url.rstrip("/").rsplit("/", 1)[-1] or "object")
    try:
        try:
            with (
                daft.open_file(url, "rb", io_config=engine.io_config()) as src,
                open(target, "wb") as dst,
            ):
                shutil.copyfileobj(src, dst, 8 << 20)
        except Exception as exc:
            raise InputError(
                f"{url}: cannot be read ({_first_line(exc)}{_at(engine)}). {_S3_HINT}"
            ) from None
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


__all__ = ["expand_inputs", "has_glob", "local_copy"]
