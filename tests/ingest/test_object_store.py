"""s3:// inputs, read from a real S3-compatible server on 127.0.0.1 (moto's server mode):
the same records, quarantine and counts as the same files read from disk, on either engine."""

from __future__ import annotations

import shutil

import pytest

from curate.core.config import Config
from curate.core.engine import Engine
from curate.core.errors import InputError
from curate.core.project import Project
from curate.core.workspace import Workspace
from curate.ingest.stage import ingest_logs
from tests.conftest import SAMPLE
from tests.core.test_engine import assert_same, ingested, small_logs


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on 127.0.0.1 (a free port), with test credentials in the environment."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as env:
        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        }.items():
            env.setenv(key, value)
        yield f"http://{host}:{port}"
    server.stop()


def upload(s3: str, bucket: str, files: dict[str, bytes]) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    for key, body in files.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)


@pytest.mark.parametrize("kind", ["local", "daft"])
def test_objects_ingest_like_the_same_files_on_disk(tmp_path, s3, kind):
    logs = small_logs(tmp_path / "logs", 25)
    shutil.copy(SAMPLE / "entity_match_chat.jsonl.gz", tmp_path / "logs" / "em.jsonl.gz")
    logs.append(tmp_path / "logs" / "em.jsonl.gz")
    bucket = f"calls-{kind}"
    upload(s3, bucket, {f"2026/11/{p.name}": p.read_bytes() for p in logs})
    engine = Engine(kind=kind, files_per_task=3)

    on_disk = Project(Workspace(tmp_path / "disk" / ".curate"), Config())
    ingest_logs(on_disk, [str(tmp_path / "logs" / "*")], engine=engine)
    from_s3 = Project(Workspace(tmp_path / "s3" / ".curate"), Config())
    result = ingest_logs(from_s3, [f"s3://{bucket}/2026/**/*.jsonl*"], engine=engine)
    assert len(result.sources) == 26 and result.ingested == 25 * 5 + 3000

    disk, objects = ingested(on_disk), ingested(from_s3)
    assert disk["records"].equals(objects["records"])  # `source` is the file's name in both
    # the quarantine and manifest name the object's URL where the disk run names the path
    for entry in disk["entries"]:
        entry["path"] = f"s3://{bucket}/2026/11/" + entry["path"].rsplit("/", 1)[1]
    disk["quarantine"] = disk["quarantine"].with_columns(
        source=f"s3://{bucket}/2026/11/" + disk["quarantine"]["source"].str.split("/").list.last()
    )
    assert_same(disk, objects)
    assert objects["quarantine"].height == 4 + 3  # 4 bad lines, and the sample's 3
    # again: nothing new
    again = ingest_logs(from_s3, [f"s3://{bucket}/2026/**/*.jsonl*"], engine=engine)
    assert again.ingested == 0 and again.duplicates == 25 * 5 + 5 + 3000


def test_object_store_errors_name_the_url(tmp_path, s3):
    upload(s3, "errors", {"a/one.jsonl": b'{"not": "a log"}\n'})
    project = Project(Workspace(tmp_path / ".curate"), Config())
    with pytest.raises(InputError, match=r"s3://errors/b/\*\.jsonl: no object matches"):
        ingest_logs(project, ["s3://errors/b/*.jsonl"])
    with pytest.raises(InputError, match=r"s3://errors/a/two.jsonl: cannot be read"):
        ingest_logs(project, ["s3://errors/a/two.jsonl"])
    with pytest.raises(InputError, match=r"s3://errors/a/one.jsonl: matches no log format"):
        ingest_logs(project, ["s3://errors/a/one.jsonl"])


def test_an_unreachable_endpoint_is_named(tmp_path, s3):
    project = Project(Workspace(tmp_path / ".curate"), Config())
    nowhere = Engine(s3={"endpoint_url": "http://127.0.0.1:1"})
    with pytest.raises(InputError, match=r"cannot be listed \(.* at http://127\.0\.0\.1:1\)"):
        ingest_logs(project, ["s3://calls/2026/*.jsonl"], engine=nowhere)


@pytest.fixture
def silent_endpoint():
    """A server on 127.0.0.1 that accepts connections, reads what it is sent, and never
    answers (closed when the test ends)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)  # kept open, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("path", ["s3://calls/2026/*.jsonl", "s3://calls/2026/a.jsonl"])
def test_an_endpoint_that_never_answers_fails_in_bounded_time(tmp_path, silent_endpoint, path):
    """Before: ingest hung past 60 s. Now each try times out ([engine.s3] timeout_s, tries) and
    the error names the endpoint."""
    import time

    project = Project(Workspace(tmp_path / ".curate"), Config())
    silent = Engine(s3={"endpoint_url": silent_endpoint, "timeout_s": 1, "tries": 2})
    started = time.monotonic()
    with pytest.raises(InputError, match=rf"at {silent_endpoint}\)"):
        ingest_logs(project, [path], engine=silent)
    assert time.monotonic() - started < 30, "two one-second tries took far longer"
