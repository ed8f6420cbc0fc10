from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any, NoReturn

import polars as pl
import pytest
from click.testing import CliRunner

from curate.core.project import Project
from curate.core.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
SHARED = REPO.parent / "shared" / "data"


def unavailable(message: str) -> NoReturn:
    """What a test needs is not here: in CI a failure (never a silent skip), elsewhere a skip."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def answers(url: str) -> bool:
    """A server answers `url` with 200 (within 5 s)."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def shared_data() -> Path:
    """../shared/data; in CI its absence is a failure, not a skip."""
    if not SHARED.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SHARED} is missing: CI must have shared/ beside the clone")
        pytest.skip("../shared/data is not here")
    return SHARED


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path / ".curate")
    ws.create()
    return ws


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def write_jsonl(path: Path, rows: list[Any], compress: bool = False) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def records(ws: Workspace) -> pl.DataFrame:
    return ws.scan_records().collect().sort("source", "source_line", maintain_order=True)


def quarantine(ws: Workspace) -> pl.DataFrame:
    return ws.scan("quarantine").collect().sort("source", "line")


def chat_line(
    i: int,
    content: str | None = '{"decision": "match"}',
    *,
    finish: str = "stop",
    system: str = "You compare person records.",
    **extra: Any,
) -> dict[str, Any]:
    """An OpenAI chat-completions log line: request beside response."""
    line = {
        "request": {
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": f"pair {i}"},
            ],
        },
        "response": {
            "id": f"chatcmpl-{i}",
            "object": "chat.completion",
            "created": 1_790_000_000 + i,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 5},
        },
    }
    line.update(extra)
    return line


def balanced_sample(root: Path, target: int, seed: int, extra_toml: str = ""):
    """The entity-match sample in a project at `root`: ingested, detected, balanced."""
    from curate.balance.stage import BalanceSettings, balance_candidates
    from curate.core.config import load_config
    from curate.detect.stage import find_failures
    from curate.ingest.stage import ingest_logs

    for name in ("curate.toml", "entity_match_output.schema.json"):
        (root / name).write_text((SAMPLE / name).read_text())
    (root / "curate.toml").write_text((root / "curate.toml").read_text() + extra_toml)
    config = load_config(root / "curate.toml")
    workspace = Workspace(root / ".curate", root / "curate.toml")
    ingest_logs(
        Project(workspace, config),
        [SAMPLE / "entity_match_chat.jsonl.gz"],
        task="entity_match",
        references=SAMPLE / "entity_match_references.csv",
    )
    find_failures(Project(workspace, config))
    balance_candidates(
        Project(workspace, config), BalanceSettings(target=target, seed=seed, task="entity_match")
    )
    return workspace, config


def draw_in_chromium(page: Path, screenshot: Path) -> tuple[list[int], Path]:
    """Open an HTML file in headless Chromium: the traces each plotly chart drew, and a
    screenshot. Debian's chromium is installed by `make stack-deps`; in CI its absence fails."""
    import shutil

    if not shutil.which("chromium"):
        unavailable("Debian's chromium is missing (make stack-deps installs it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1200,2400",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    count = "document.querySelectorAll('.js-plotly-plot')"
    try:
        driver.get(page.as_uri())
        expected = page.read_text().count('class="plotly-graph-div"')
        WebDriverWait(driver, 30).until(
            lambda d: (
                d.execute_script(
                    f"return Array.from({count}).filter(p => p.querySelector('.main-svg')).length"
                )
                == expected
            )
        )
        traces = driver.execute_script(
            f"return Array.from({count}).map(p => p.querySelectorAll('.trace').length)"
        )
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1200, height + 100)
        driver.save_screenshot(str(screenshot))
    finally:
        driver.quit()
    return traces, screenshot
