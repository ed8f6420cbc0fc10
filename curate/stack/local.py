"""Install, start, check and stop the local Argilla stack (see curate/stack/__init__.py)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from curate.core.errors import StackError
from curate.core.workspace import Workspace, atomic_write_bytes

HOST = "127.0.0.1"
PORTS = {"opensearch": 9201, "opensearch_transport": 9301, "redis": 6380, "argilla": 6900}
# The local stack's owner account: its password and API key are generated per workspace at
# the first `up` (Python's secrets) and kept in the workspace's argilla/credentials.json, which
# only its owner may read. A workspace whose server was set up before that keeps the fixed
# values it was set up with.
USERNAME = "argilla"
LEGACY_PASSWORD, LEGACY_API_KEY = "12345678", "argilla.apikey"
CREDENTIALS = "credentials.json"
RUNNING = "running.json"  # in the stack's home: which workspace's server answers on the port
COMPONENTS = ("opensearch", "redis", "argilla", "worker")
START_TIMEOUT = 120.0

Say = Callable[[str], None]


def stack_home() -> Path:
    return Path(os.environ.get("CURATE_STACK_HOME") or Path.home() / ".cache" / "curate" / "stack")


def running_credentials() -> dict[str, str] | None:
    """The account of the local stack that answers on this machine (the workspace whose `up`
    started it), or None when curate started none."""
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError):
        pointer = json.loads((stack_home() / RUNNING).read_text())
        return Stack(stack_home(), Path(pointer["run"])).credentials()
    return None


@dataclass(frozen=True)
class Stack:
    """Where the stack is installed (`home`) and where this workspace runs it (`run`)."""

    home: Path
    run: Path

    @classmethod
    def for_workspace(cls, workspace: Workspace) -> Stack:
        return cls(stack_home(), workspace.root / "argilla")

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{PORTS['argilla']}"

    def credentials(self, create: bool = False) -> dict[str, str] | None:
        """This workspace's owner account: username, password, api_key. Made (mode 0600) when
        `create` and there is none yet; None when there is none and `create` is not set."""
        path = self.run / CREDENTIALS
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError):
            data = json.loads(path.read_text())
            return {k: str(data[k]) for k in ("username", "password", "api_key")}
        if not create:
            return None
        server = self.run / "server"
        legacy = server.is_dir() and any(server.iterdir())  # set up with the fixed values
        made = {
            "username": USERNAME,
            "password": LEGACY_PASSWORD if legacy else secrets.token_urlsafe(18),
            "api_key": LEGACY_API_KEY if legacy else "curate." + secrets.token_urlsafe(24),
        }
        self.run.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(made, indent=2).encode())  # mkstemp: mode 0600
        os.chmod(path, 0o600)
        return made

    # -- install ---------------------------------------------------------------------------
    def install(self, say: Say) -> None:
        """Build OpenSearch and the Argilla environment once (again when their recipe changes)."""
        for tool, why in (
            ("java", "OpenSearch"),
            ("mvn", "building OpenSearch"),
            ("redis-server", "Argilla"),
        ):
            if shutil.which(tool) is None:
                hint = (
                    "apt-get install redis-server"
                    if tool == "redis-server"
                    else "install a JDK 17 and Maven"
                )
                raise StackError(
                    f"`{tool}` is not on PATH; the local stack needs it for {why} ({hint})"
                )
        self.home.mkdir(parents=True, exist_ok=True)
        self._install_opensearch(say)
        self._install_argilla(say)

    def _source(self, *parts: str) -> Path:
        return Path(str(resources.files("curate.stack").joinpath(*parts)))

    def _install_opensearch(self, say: Say) -> None:
        source = self._source("opensearch")
        build = self.home / "opensearch"
        recipe = _digest([source / "pom.xml", *sorted((source / "src").rglob("*.java"))])
        if (build / ".built").is_file() and (build / ".built").read_text() == recipe:
            return
        say("building OpenSearch 2.19.6 from Maven Central (first run only) ...")
        shutil.rmtree(build, ignore_errors=True)
        shutil.copytree(source, build, ignore=shutil.ignore_patterns("target"))
        _run(
            ["mvn", "-q", "-B", "package", "-DskipTests"],
            cwd=build,
            what="building OpenSearch with Maven",
        )
        (build / ".built").write_text(recipe)

    def _install_argilla(self, say: Say) -> None:
        requirements = self._source("argilla", "requirements.txt")
        venv = self.home / "argilla-venv"
        recipe = _digest([requirements])
        if (venv / ".installed").is_file() and (venv / ".installed").read_text() == recipe:
            return
        say("installing the Argilla server in its own environment (first run only) ...")
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(venv)], what="creating the Argilla environment")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        _run([*pip, "--upgrade", "pip"], what="upgrading pip")
        _run([*pip, "-r", str(requirements)], what="installing argilla-server")
        (venv / ".installed").write_text(recipe)

    # -- run -------------------------------------------------------------------------------
    @property
    def _state_path(self) -> Path:
        return self.run / "state.json"

    def _state(self) -> dict[str, Any]:
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            return json.loads(self._state_path.read_text())
        return {}

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "ARGILLA_HOME_PATH": str(self.run / "server"),
                "ARGILLA_ELASTICSEARCH": f"http://{HOST}:{PORTS['opensearch']}",
                "ARGILLA_SEARCH_ENGINE": "opensearch",
                "ARGILLA_REDIS_URL": f"redis://{HOST}:{PORTS['redis']}/0",
                "ARGILLA_ENABLE_TELEMETRY": "0",
                "HF_HUB_OFFLINE": "1",
                "HF_HUB_DISABLE_TELEMETRY": "1",
            }
        )
        for name in ("ARGILLA_API_URL", "ARGILLA_API_KEY", "VIRTUAL_ENV", "PYTHONPATH"):
            env.pop(name, None)
        return env

    def _commands(self) -> dict[str, list[str]]:
        build = self.home / "opensearch" / "target"
        python = str(self.home / "argilla-venv" / "bin" / "python")
        return {
            "opensearch": [
                "java",
                "-Xms512m",
                "-Xmx1g",
                "-Dopensearch.set.netty.runtime.available.processors=false",
                "-cp",
                f"{build / 'classes'}{os.pathsep}{build / 'lib' / '*'}",
                "curate.stack.EmbeddedOpenSearch",
                str(self.run / "opensearch"),
                str(PORTS["opensearch"]),
                str(PORTS["opensearch_transport"]),
            ],
            "redis": [
                "redis-server",
                "--bind",
                HOST,
                "--port",
                str(PORTS["redis"]),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.run),
            ],
            "argilla": [
                python,
                "-m",
                "argilla_server",
                "start",
                "--host",
                HOST,
                "--port",
                str(PORTS["argilla"]),
            ],
            "worker": [python, "-m", "argilla_server", "worker", "--num-workers", "1"],
        }

    def healthy(self, component: str) -> bool:
        if component == "opensearch":
            health = _get_json(f"http://{HOST}:{PORTS['opensearch']}/_cluster/health")
            return bool(health) and health.get("status") in ("green", "yellow")
        if component == "redis":
            return _redis_ping(PORTS["redis"])
        if component == "argilla":
            return _get_status(f"{self.api_url}/api/_status") == 200
        if component == "worker":
            pid = self._state().get("worker", {}).get("pid")
            return pid is not None and _alive(pid)
        raise ValueError(component)

    def status(self) -> dict[str, Any]:
        """Each component: its pid (when this workspace started it) and whether it answers."""
        state = self._state()
        out: dict[str, Any] = {}
        for component in COMPONENTS:
            pid = state.get(component, {}).get("pid")
            out[component] = {
                "pid": pid,
                "running": pid is not None and _alive(pid),
                "healthy": self.healthy(component),
                "log": str(self.run / "logs" / f"{component}.log"),
            }
        out["url"] = self.api_url
        credentials = self.credentials() or {}
        out["username"] = credentials.get("username")
        out["password"] = credentials.get("password")
        out["api_key"] = credentials.get("api_key")
        out["credentials_file"] = str(self.run / CREDENTIALS)
        out["healthy"] = all(out[c]["healthy"] for c in COMPONENTS)
        return out

    def up(self, say: Say) -> dict[str, Any]:
        """Install what is missing, start what is not running, wait until all answer."""
        self.install(say)
        (self.run / "logs").mkdir(parents=True, exist_ok=True)
        state = self._state()
        commands = self._commands()
        for component in ("opensearch", "redis"):
            if not self.healthy(component):
                self._check_port_free(component)
                state[component] = self._start(component, commands[component])
                self._wait(component, say)
        if not self.healthy("argilla"):
            self._prepare_server()
            self._check_port_free("argilla")
            state["argilla"] = self._start("argilla", commands["argilla"])
            self._save(state)
            self._wait("argilla", say)
        if not self.healthy("worker"):
            state["worker"] = self._start("worker", commands["worker"])
        self._save(state)
        pid = state.get("argilla", {}).get("pid")
        if pid is not None and _alive(pid):  # this workspace's server is the one that answers
            pointer = {"workspace": str(self.run.parent), "run": str(self.run)}
            atomic_write_bytes(self.home / RUNNING, json.dumps(pointer).encode())
        return self.status()

    def down(self, say: Say) -> dict[str, Any]:
        """Stop every component this workspace started (the worker and server first)."""
        state = self._state()
        for component in reversed(COMPONENTS):
            pid = state.get(component, {}).get("pid")
            if pid is not None and _alive(pid):
                say(f"stopping {component} (pid {pid})")
                _stop(pid)
            state.pop(component, None)
        self._save(state)
        return self.status()

    def _save(self, state: dict[str, Any]) -> None:
        atomic_write_bytes(self._state_path, json.dumps(state, indent=2).encode())

    def _start(self, component: str, command: list[str]) -> dict[str, Any]:
        log = open(self.run / "logs" / f"{component}.log", "ab")  # noqa: SIM115 - the child keeps it
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self._env(),
            cwd=self.run,
            start_new_session=True,
        )
        log.close()
        return {"pid": process.pid, "started_at": time.time()}

    def _wait(self, component: str, say: Say) -> None:
        say(f"waiting for {component} ...")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.healthy(component):
                return
            pid = self._state().get(component, {}).get("pid")
            time.sleep(0.5)
        log = self.run / "logs" / f"{component}.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
        raise StackError(
            f"{component} did not answer within {START_TIMEOUT:.0f} s (pid {pid}). "
            f"The end of {log}:\n{tail}"
        )

    def _prepare_server(self) -> None:
        credentials = self.credentials(create=True)
        assert credentials is not None
        python = str(self.home / "argilla-venv" / "bin" / "python")
        env = self._env()
        (self.run / "server").mkdir(parents=True, exist_ok=True)
        _run(
            [python, "-m", "argilla_server", "database", "migrate"],
            env=env,
            what="migrating the Argilla database",
        )
        users = subprocess.run(
            [
                python,
                "-m",
                "argilla_server",
                "database",
                "users",
                "create_default",
                "--password",
                credentials["password"],
                "--api-key",
                credentials["api_key"],
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if users.returncode != 0 and "already" not in (users.stdout + users.stderr).lower():
            raise StackError(
                f"creating the default Argilla user failed:\n{users.stdout}{users.stderr}"
            )

    def _check_port_free(self, component: str) -> None:
        port = PORTS[component]
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((HOST, port)) == 0:
                raise StackError(
                    f"port {port} on {HOST} is taken, but not by a healthy {component} of this "
                    "stack. Stop whatever listens there (or the stack of another workspace: "
                    "`curate argilla down` in it) and run `curate argilla up` again."
                )


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(
    command: list[str], what: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> None:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StackError(
            f"{what} failed ({' '.join(command[:4])} ...):\n{(done.stdout + done.stderr)[-3000:]}"
        )


def _get_json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def _get_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is not alive
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
    return True


def _stop(pid: int, timeout: float = 20.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
