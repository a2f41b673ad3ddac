"""Placeholder (API helper) for the cards helper's tests of intake.card_service."""

from __future__ import annotations

from intake import card_service


def test_given_lines_when_rendered_then_the_bytes_are_a_pdf_holding_them() -> None:
    pdf = card_service._pdf(["Dee Lee leed0001 A0001"])
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert b"(Dee Lee leed0001 A0001) Tj" in pdf
