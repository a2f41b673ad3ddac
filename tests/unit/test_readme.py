"""The README is what a newcomer deploys from: it names every template parameter with what it does."""

from __future__ import annotations

from pathlib import Path

from local.template import load_template

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_template_parameter_is_in_the_readmes_parameter_table() -> None:
    table = [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    missing = [name for name in load_template()["Parameters"] if not any(f"`{name}`" in row for row in table)]
    assert not missing, f"add these parameters to README.md's deploy table: {missing}"
