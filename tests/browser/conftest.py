"""Headless Chromium (Debian's, through Playwright) driving the staff page of the running local stack."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import local_stack  # the same stack fixture as tests/e2e
from tests.environment import missing

__all__ = ["local_stack"]

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "browser"
VIEWPORT = {"width": 1366, "height": 768}
# Measured to work with Debian's chromium here (see the platform notes); Playwright's own browsers are not downloaded.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# Records what the page would print and any Content-Security-Policy violation, before the page's own scripts run.
INIT_SCRIPT = """
window.__printed = [];
window.print = () => {
  const area = document.getElementById('print-area');
  window.__printed.push(area ? area.querySelectorAll('.slip').length : -1);
};
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def chromium_executable() -> str | None:
    """Debian's chromium, or another one named by INTAKE_CHROMIUM."""
    for candidate in (os.environ.get("INTAKE_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session; without one the tests skip, and in CI they fail."""
    executable = chromium_executable()
    if executable is None:
        missing("no Chromium binary: install Debian's chromium (apt-get install chromium), as .ci/run does")
    from playwright.sync_api import sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # the folder shows the last run only
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class Shots:
    """Numbered screenshots of one test under test-artifacts/browser/."""

    def __init__(self, test_name: str) -> None:
        self.prefix = test_name
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Any, step: str, *, full_page: bool = True) -> Path:
        """Save the page as it looks now."""
        self.count += 1
        path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    """`shot(page, "step-name")` saves a numbered screenshot of the current test."""
    return Shots(request.node.name.replace("test_", "", 1))


@pytest.fixture
def new_page(browser: Any, local_stack: dict[str, Any]) -> Iterator[Any]:
    """`new_page()`: a fresh 1366×768 browser context on the page; contexts close and CSP is checked at the end."""
    contexts = []

    def open_page() -> Any:
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="en-US")
        context.set_default_timeout(15_000)
        context.add_init_script(INIT_SCRIPT)
        contexts.append(context)
        page = context.new_page()
        page.goto(local_stack["apiUrl"] + "/")
        return page

    yield open_page
    try:
        for context in contexts:
            for page in context.pages:
                assert page.evaluate("window.__cspViolations") == [], "the page broke its own Content-Security-Policy"
    finally:
        for context in contexts:
            context.close()
