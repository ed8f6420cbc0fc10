"""One person labels one record in the real Argilla web UI (headless Chromium); pull has it."""

from __future__ import annotations

import json
import shutil
import uuid

import httpx
import polars as pl
import pytest

from curate.core.project import Project
from curate.queue.stage import pull_queue, push_queue
from tests.conftest import unavailable
from tests.integration.conftest import account

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        message = (
            "Debian's chromium and chromium-driver are not installed (make stack-deps does it)"
        )
        unavailable(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def dataset_id(argilla_url: str, name: str) -> str:
    found = httpx.get(
        f"{argilla_url}/api/v1/me/datasets", headers={"X-Argilla-Api-Key": account()["api_key"]}
    )
    return next(d["id"] for d in found.json()["items"] if d["name"] == name)


def sign_in(browser, argilla_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(f"{argilla_url}/sign-in")
    wait.until(ready.presence_of_element_located((By.NAME, "Username"))).send_keys(
        account()["username"]
    )
    browser.find_element(By.NAME, "Password").send_keys(account()["password"])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(ready.url_changes(f"{argilla_url}/sign-in"))


def test_label_a_record_in_the_web_ui_and_pull_it(
    labelled_workspace, argilla_url, browser, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    workspace, config = labelled_workspace
    dataset = f"ui-{uuid.uuid4().hex[:8]}"
    push_queue(Project(workspace, config), task="entity_match", dataset=dataset)
    wait = WebDriverWait(browser, 60)
    sign_in(browser, argilla_url)
    browser.get(f"{argilla_url}/dataset/{dataset_id(argilla_url, dataset)}/annotation-mode")
    wait.until(ready.element_to_be_clickable((By.CSS_SELECTOR, "label[for=label_match]")))
    for option in ("label_match", "is_failure_yes"):
        # the model's answer is suggested: a click on an already chosen option would clear it
        if not browser.find_element(By.ID, option).is_selected():
            browser.find_element(By.CSS_SELECTOR, f"label[for={option}]").click()
        assert browser.find_element(By.ID, option).is_selected()
    browser.save_screenshot(str(tmp_path / "before-submit.png"))
    submit = (By.CSS_SELECTOR, "button.button--submit:not([disabled])")
    wait.until(ready.element_to_be_clickable(submit)).click()

    def submitted(_):
        result = pull_queue(Project(workspace, config), task="entity_match", dataset=dataset)
        return result.records_answered == 1

    WebDriverWait(browser, 30, poll_frequency=1).until(submitted)
    annotations = pl.read_parquet(workspace.root / "annotations.parquet")
    label = annotations.filter(pl.col("question") == "label")
    assert label["status"].to_list() == ["submitted"]
    assert label["username"].to_list() == [account()["username"]]
    assert json.loads(label["value"][0]) == "match"


def test_the_guidelines_are_shown_to_the_annotator(tmp_path, argilla_url, browser):
    """[tasks.NAME.queue] guidelines (a Markdown file): what a person sees beside the record in
    the Argilla web UI, rendered."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.conftest import balanced_sample

    (tmp_path / "guide.md").write_text(
        "## Same person?\n\nA nickname is the same **first name**: Bob is Robert.\n"
    )
    extra = '\n[tasks.entity_match.queue]\nguidelines = "guide.md"\n'
    workspace, config = balanced_sample(tmp_path, target=6, seed=2, extra_toml=extra)
    dataset = f"guide-{uuid.uuid4().hex[:8]}"
    push_queue(Project(workspace, config), task="entity_match", dataset=dataset)
    sign_in(browser, argilla_url)
    browser.get(f"{argilla_url}/dataset/{dataset_id(argilla_url, dataset)}/annotation-mode")

    def shown(_):
        for tab in browser.find_elements(By.XPATH, "//*[normalize-space(text())='Guidelines']"):
            if tab.is_displayed():
                tab.click()
        return "Bob is Robert" in browser.find_element(By.TAG_NAME, "body").text

    WebDriverWait(browser, 60, poll_frequency=1).until(shown)
    browser.save_screenshot(str(tmp_path / "guidelines.png"))
    rendered = browser.find_elements(By.XPATH, "//strong[normalize-space(text())='first name']")
    assert rendered, "the guidelines' Markdown is not rendered (no <strong>first name</strong>)"
