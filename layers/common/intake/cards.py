"""Learner cards as a PDF: US Letter, eight cards a page (2 columns x 4 rows) between dashed cut lines.

Pure rendering with fpdf2 (no storage, no secrets kept): the caller gives the cards' text. The PDF uses the standard
Helvetica and Courier fonts (nothing embedded, so 500 cards stay small and fast) in the PDF's WinAnsi encoding
(Windows-1252): Latin accents such as "José Núñez", "Renée", "Œ" or "Ž" print as they are. A character outside it
(e.g. "Ł", "ı", Cyrillic) is printed as its base letter when it has one ("Ł" -> "L", "ǅ" -> "Dz") and as "?" when
not: see `printable`. Usernames, DOC IDs and generated passwords are ASCII, so they always print exactly.

fpdf2 is imported when the first PDF is made, not with this module: the API's cold start does not pay for it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf import FPDF

ENCODING = "windows-1252"  # what fpdf2 declares for core fonts: /Encoding /WinAnsiEncoding
# Letters that Unicode does not decompose into a base letter and a mark, but that staff would write without accent.
_BASE_LETTERS = str.maketrans(
    {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ı": "i", "Ŧ": "T", "ŧ": "t", "ĸ": "k", "ŉ": "'n"}
)

# Geometry, in points (1/72 in). US Letter is 612 x 792; a half-inch margin keeps every card inside what a printer
# prints; each card is then 270 x 180 pt (3.75 x 2.5 in).
PAGE_WIDTH, PAGE_HEIGHT = 612.0, 792.0
MARGIN = 36.0
COLUMNS, ROWS = 2, 4
CARDS_PER_PAGE = COLUMNS * ROWS
CARD_WIDTH = (PAGE_WIDTH - 2 * MARGIN) / COLUMNS
CARD_HEIGHT = (PAGE_HEIGHT - 2 * MARGIN) / ROWS
PADDING = 14.0
_TEXT_WIDTH = CARD_WIDTH - 2 * PADDING
_DASH, _GAP = 4.0, 3.0
_LABEL_GREY = 90


@dataclass(frozen=True, slots=True)
class Card:
    """What one card shows. `password` is set only for a password that was just made for this card."""

    name: str
    username: str
    doc_id: str
    facility_name: str
    housing_unit_name: str
    password: str | None = None


@lru_cache(maxsize=4096)
def printable(text: str) -> str:
    """`text` as the core fonts can print it: unchanged in Windows-1252, else base letters, else "?"."""
    try:
        text.encode(ENCODING)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode(ENCODING)
            out.append(char)
            continue
        except UnicodeEncodeError:
            pass
        base = "".join(c for c in unicodedata.normalize("NFKD", char.translate(_BASE_LETTERS)) if c.isascii())
        out.append(base or "?")
    return "".join(out)


def _fitted(pdf: FPDF, text: str, family: str, style: str, size: float, least: float = 7.0) -> tuple[str, float]:
    """The text and the font size that fit the card's width: the size shrinks to `least`, then the text is cut."""
    pdf.set_font(family, style, size)
    width = pdf.get_string_width(text)
    if width <= _TEXT_WIDTH:
        return text, size
    size = max(least, size * _TEXT_WIDTH / width)
    pdf.set_font(family, style, size)
    while text and pdf.get_string_width(text + "...") > _TEXT_WIDTH:
        text = text[:-1]
    return (text + "..." if text else text), size


def _line(pdf: FPDF, x: float, y: float, text: str, family: str, style: str, size: float) -> None:
    shown, fitted = _fitted(pdf, text, family, style, size)
    pdf.set_font(family, style, fitted)
    pdf.text(x, y, shown)


def _label(pdf: FPDF, x: float, y: float, text: str) -> None:
    pdf.set_text_color(_LABEL_GREY)
    pdf.set_font("Helvetica", "", 7)
    pdf.text(x, y, text)
    pdf.set_text_color(0)


def _cut_lines(pdf: FPDF) -> None:
    """Dashed lines across the whole sheet along every card edge, for a guillotine or scissors."""
    pdf.set_draw_color(150)
    pdf.set_line_width(0.5)
    pdf.set_dash_pattern(dash=_DASH, gap=_GAP)
    for column in range(COLUMNS + 1):
        x = MARGIN + column * CARD_WIDTH
        pdf.line(x, 0, x, PAGE_HEIGHT)
    for row in range(ROWS + 1):
        y = MARGIN + row * CARD_HEIGHT
        pdf.line(0, y, PAGE_WIDTH, y)
    pdf.set_dash_pattern()


def _card(pdf: FPDF, card: Card, left: float, top: float) -> None:
    x = left + PADDING
    _line(pdf, x, top + PADDING + 8, printable(card.facility_name), "Helvetica", "B", 9)
    _line(pdf, x, top + PADDING + 19, printable(card.housing_unit_name), "Helvetica", "", 9)
    _line(pdf, x, top + PADDING + 42, printable(card.name), "Helvetica", "B", 15)
    _label(pdf, x, top + PADDING + 60, "DOC ID")
    _line(pdf, x, top + PADDING + 72, printable(card.doc_id), "Helvetica", "", 11)
    _label(pdf, x, top + PADDING + 90, "USERNAME")
    _line(pdf, x, top + PADDING + 104, printable(card.username), "Courier", "B", 14)
    if card.password is not None:
        _label(pdf, x, top + PADDING + 122, "NEW PASSWORD")
        _line(pdf, x, top + PADDING + 136, printable(card.password), "Courier", "B", 14)


def new_document() -> FPDF:
    """An empty Letter document in points with the core fonts' WinAnsi encoding, no automatic page breaks."""
    from fpdf import FPDF

    pdf = FPDF(orientation="portrait", unit="pt", format="letter")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_title("Learner cards")
    pdf.set_creator("Intake")
    return pdf


def render(cards: Sequence[Card]) -> bytes:
    """The PDF of these cards in order, eight a page, each page with its cut lines (one empty page for none)."""
    pdf = new_document()
    if not cards:
        pdf.add_page()
        _cut_lines(pdf)
    for index, card in enumerate(cards):
        slot = index % CARDS_PER_PAGE
        if slot == 0:
            pdf.add_page()
            _cut_lines(pdf)
        column, row = slot % COLUMNS, slot // COLUMNS
        _card(pdf, card, MARGIN + column * CARD_WIDTH, MARGIN + row * CARD_HEIGHT)
    return bytes(pdf.output())
