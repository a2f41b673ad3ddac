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


# The card's lines: (font family, style, size, baseline below the card's top). Three fonts a card and one text
# object a line: a card costs about what its text costs written plainly (`make bench` checks the ratio).
_PLACE = ("Helvetica", "", 10.0)
_NAME = ("Helvetica", "B", 15.0)
_DOC = _PLACE
_SIGN_IN = ("Courier", "B", 12.0)
_LEAST_SIZE = 7.0


@lru_cache(maxsize=8)
def _char_widths(family: str, style: str) -> dict[str, int]:
    """The core font's widths (1/1000 em) by character as fpdf2 keys them (Windows-1252 bytes read as Latin-1)."""
    from fpdf.fonts import CORE_FONTS_CHARWIDTHS

    return CORE_FONTS_CHARWIDTHS[family.lower() + style]


def _width(text: str, family: str, style: str, size: float) -> float:
    widths = _char_widths(family, style)
    return sum(widths[char] for char in text.encode(ENCODING).decode("latin-1")) * size / 1000


def fitted(text: str, family: str, style: str, size: float) -> tuple[str, float]:
    """The text and font size that fit the card's width: the size shrinks to 7 pt, then the text is cut with "..."."""
    width = _width(text, family, style, size)
    if width <= _TEXT_WIDTH:
        return text, size
    size = max(_LEAST_SIZE, size * _TEXT_WIDTH / width * 0.999)  # 0.999: rounding never cuts a text that fits
    if _width(text, family, style, size) <= _TEXT_WIDTH:
        return text, size
    while text and _width(text + "...", family, style, size) > _TEXT_WIDTH:
        text = text[:-1]
    return text.rstrip() + "...", size


def card_lines(card: Card) -> list[tuple[str, tuple[str, str, float], float]]:
    """What a card prints, line by line: (text as printed, font, baseline below the card's top)."""
    lines = [
        (printable(card.facility_name), _PLACE, 22.0),
        (printable(card.housing_unit_name), _PLACE, 34.0),
        ("DOC ID  " + printable(card.doc_id), _DOC, 80.0),  # below the name, written before it: one font less
        (printable(card.name), _NAME, 60.0),
        ("Username  " + printable(card.username), _SIGN_IN, 108.0),
    ]
    if card.password is not None:
        lines.append(("New password  " + printable(card.password), _SIGN_IN, 130.0))
    return lines


class _Writer:
    """Text onto the document, switching fonts only when a line needs another one."""

    def __init__(self, pdf: FPDF) -> None:
        self.pdf = pdf
        self.font: tuple[str, str, float] | None = None

    def line(self, x: float, y: float, text: str, font: tuple[str, str, float]) -> None:
        family, style, size = font
        shown, size = fitted(text, family, style, size)
        if (family, style, size) != self.font:
            self.pdf.set_font(family, style, size)
            self.font = (family, style, size)
        self.pdf.text(x, y, shown)

    def page(self) -> None:
        self.pdf.add_page()
        self.font = None  # fpdf2 sets the font on each new page itself; ours is set again on first use
        _cut_lines(self.pdf)


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
    writer = _Writer(new_document())
    if not cards:
        writer.page()
    for index, card in enumerate(cards):
        slot = index % CARDS_PER_PAGE
        if slot == 0:
            writer.page()
        left = MARGIN + (slot % COLUMNS) * CARD_WIDTH + PADDING
        top = MARGIN + (slot // COLUMNS) * CARD_HEIGHT
        for text, font, baseline in card_lines(card):
            writer.line(left, top + baseline, text, font)
    return bytes(writer.pdf.output())
