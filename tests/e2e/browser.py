"""Headless Chromium from Debian driven by Selenium, for the console tests (tests/e2e and the
Kafka cluster's in tests/kafka): the session and waits on what the page shows."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Screenshots go to a temporary directory; KATKA_SCREENSHOTS_DIR=docs refreshes the README's.
SCREENSHOTS_DIR = os.environ.get("KATKA_SCREENSHOTS_DIR", "")


def screenshots_dir(tmp_path: Path) -> Path:
    return Path(SCREENSHOTS_DIR) if SCREENSHOTS_DIR else tmp_path


def chromium_session() -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extras")
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip(
            "SKIPPED LOUDLY: Debian's chromium and chromium-driver are not installed "
            "(.ci/run installs them: apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1100,1300",
    ):
        options.add_argument(argument)
    session = webdriver.Chrome(options=options, service=webdriver.ChromeService(driver))
    try:
        yield session
    finally:
        session.quit()


def wait_for(browser: Any, condition: Callable[[Any], object], timeout: float = 30) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, timeout, poll_frequency=0.2).until(condition)


def text_of(browser: Any, selector: str) -> str:
    """The element's text; "" when there is none. The page re-renders every 2 s, so an element
    found may be replaced before its text is read: then it is found again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _attempt in range(5):
        try:
            return str(browser.find_element(By.CSS_SELECTOR, selector).text)
        except NoSuchElementException:
            return ""
        except StaleElementReferenceException:
            continue
    return ""


def click(browser: Any, selector: str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, selector).click()


def choose_reset(browser: Any, mode: str, value: str = "", live: bool = False) -> None:
    """Fill the console's reset form (the group page)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(By.CSS_SELECTOR, "#reset-mode")).select_by_value(mode)
    field = browser.find_element(By.CSS_SELECTOR, "#reset-value")
    field.clear()
    field.send_keys(value)
    checkbox = browser.find_element(By.CSS_SELECTOR, "#reset-live")
    if checkbox.is_selected() != live:
        checkbox.click()
