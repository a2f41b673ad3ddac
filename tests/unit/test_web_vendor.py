"""The staff page's sign-in library is exactly the pinned npm package's dist file (package-lock.json), served as is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENDORED = ROOT / "functions" / "api" / "web" / "amazon-cognito-identity.min.js"
PACKAGE = ROOT / "node_modules" / "amazon-cognito-identity-js"


def test_the_lock_pins_the_version_package_json_names() -> None:
    # Given package.json and its lock
    wanted = json.loads((ROOT / "package.json").read_text())["dependencies"]["amazon-cognito-identity-js"]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/amazon-cognito-identity-js"]

    # Then the version is exact, locked with its integrity hash
    assert wanted == locked["version"] == "6.3.21"
    assert locked["integrity"].startswith("sha512-")


def test_the_vendored_file_is_the_installed_packages_dist_file() -> None:
    # Given the package as `make install` put it (npm ci from package-lock.json)
    if not PACKAGE.exists():
        pytest.skip("node_modules is missing: run `make install` (it needs npm) to check the vendored file")
    installed = json.loads((PACKAGE / "package.json").read_text())["version"]

    # Then the shipped copy is byte for byte its dist bundle, of the locked version
    assert installed == "6.3.21"
    assert VENDORED.read_bytes() == (PACKAGE / "dist" / "amazon-cognito-identity.min.js").read_bytes()


def test_the_page_loads_the_library_before_its_own_script() -> None:
    page = (ROOT / "functions" / "api" / "web" / "index.html").read_text()
    assert page.index("static/amazon-cognito-identity.min.js") < page.index("static/app.js")


def test_axe_core_for_the_browser_tests_is_pinned_exactly_and_locked() -> None:
    # Given package.json and its lock: axe-core, which tests/browser/axe.py injects into every screen of the page
    wanted = json.loads((ROOT / "package.json").read_text())["devDependencies"]["axe-core"]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]["node_modules/axe-core"]

    # Then it is an exact version (no range), locked with its integrity hash, and a dev dependency only
    assert wanted == locked["version"] and wanted[0].isdigit()
    assert locked["dev"] is True
    assert locked["integrity"].startswith("sha512-")
