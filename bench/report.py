"""One benchmark's figure: a ratio measured in this run, its target, and whether it holds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """A measured ratio; `at_least` says whether the target is a floor (throughput) or a ceiling (cost)."""

    name: str
    value: float
    target: float | None  # None: reported, no target in the issue
    at_least: bool = True
    unit: str = "x"
    detail: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        held = self.value >= self.target if self.at_least else self.value <= self.target
        return "PASS" if held else "FAIL"

    def line(self) -> str:
        """The row printed for this result."""
        target = "-" if self.target is None else f"{'>=' if self.at_least else '<='} {self.target:g}"
        return f"{self.name:<44} {self.value:>9.3f} {self.unit:<6} {target:<10} {self.verdict:<5} {self.detail}"
