"""axe-core (npm, pinned in package-lock.json) run on a screen of the staff page: no violation may be left.

The page's Content-Security-Policy allows its own origin's scripts only, so axe is not inlined: the browser asks the
page's origin for AXE_PATH and Playwright answers with node_modules/axe-core/axe.min.js; the server never serves it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
AXE_FILE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_PATH = "/__browser-tests__/axe.min.js"
# Every WCAG 2.x A/AA rule and axe's best practices; nothing is turned off.
RUN_SCRIPT = """
async () => {
  const results = await window.axe.run(document, { resultTypes: ["violations"] });
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}
"""


def axe_source() -> bytes:
    """The installed axe-core bundle; without it (no `make install`) the browser tests cannot check accessibility."""
    if not AXE_FILE.is_file():
        pytest.fail("node_modules/axe-core is missing: run `make install` (npm ci) before the browser tests")
    return AXE_FILE.read_bytes()


def violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (axe is injected once per document)."""
    if not page.evaluate("Boolean(window.axe)"):
        origin = page.evaluate("location.origin")
        body = axe_source()
        page.route(
            origin + AXE_PATH,
            lambda route: route.fulfill(status=200, content_type="text/javascript; charset=utf-8", body=body),
        )
        page.add_script_tag(url=origin + AXE_PATH)
    return list(page.evaluate(RUN_SCRIPT))


def assert_accessible(page: Any, screen: str) -> None:
    """0 axe-core violations on this screen, or a failure that lists each violation and where it is."""
    found = violations(page)
    assert found == [], f"axe-core violations on the screen {screen!r}:\n" + json.dumps(found, indent=2)
