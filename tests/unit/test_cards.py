"""intake.cards: the PDF read back with pypdf (text, pages, paper size), pure: no AWS."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import pytest
from pypdf import PdfReader

from intake import cards
from intake.cards import Card

LETTER = (612, 792)  # points


def card(n: int, password: str | None = None, name: str | None = None) -> Card:
    return Card(
        name=name or f"José Núñez-O'Neil {n}",
        username=f"nunezj{n:04d}",
        doc_id=f"A{n:07d}",
        facility_name="Ridge Facility",
        housing_unit_name=f"Unit {n % 3}",
        password=password,
    )


def read(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in read(pdf).pages]


def test_given_cards_when_rendered_then_each_name_username_doc_id_facility_and_unit_is_in_the_text() -> None:
    given = [card(n) for n in range(3)]
    text = "\n".join(page_texts(cards.render(given)))
    for one in given:
        for shown in (one.name, one.username, one.doc_id, one.housing_unit_name):
            assert shown in text, shown
    assert "Ridge Facility" in text


def test_given_nine_cards_then_two_letter_pages_the_first_with_eight_and_the_second_with_one() -> None:
    pdf = cards.render([card(n) for n in range(9)])
    reader = read(pdf)
    assert len(reader.pages) == 2
    assert all((float(page.mediabox.width), float(page.mediabox.height)) == LETTER for page in reader.pages)
    first, second = page_texts(pdf)
    assert re.findall(r"nunezj\d{4}", first) == [f"nunezj{n:04d}" for n in range(8)]
    assert re.findall(r"nunezj\d{4}", second) == ["nunezj0008"]


@pytest.mark.parametrize(("count", "pages"), [(1, 1), (8, 1), (16, 2), (17, 3)])
def test_given_a_number_of_cards_then_the_pages_are_eight_cards_each(count: int, pages: int) -> None:
    assert len(read(cards.render([card(n) for n in range(count)])).pages) == pages


def test_given_500_cards_with_passwords_then_63_pages_under_2_mb_holding_every_card() -> None:
    given = [card(n, password=f"bada-fime-gusa-{n:04d}") for n in range(500)]
    pdf = cards.render(given)
    # API Gateway answers at most 10 MB, a Lambda proxy response at most 6 MB (base64 for a binary body: 4/3 more)
    assert len(pdf) < 2 * 1024 * 1024, len(pdf)
    texts = page_texts(pdf)
    assert len(texts) == 63
    text = "\n".join(texts)
    assert all(one.username in text and one.doc_id in text and one.password in text for one in given if one.password)


def test_given_a_card_without_a_new_password_then_it_shows_no_password() -> None:
    text = "\n".join(page_texts(cards.render([card(1), card(2, password="kitu-mapa-dena-rosa-58")])))
    assert re.findall(r"New password +(\S+)", text) == ["kitu-mapa-dena-rosa-58"]
    alone = "\n".join(page_texts(cards.render([card(1)])))
    assert "PASSWORD" not in alone.upper()


def test_given_accented_names_then_they_print_as_written_and_others_as_their_base_letters() -> None:
    names = ["Renée Dubois", "Zoë Œuvre-Šimić", "Łukasz Kowalski", "Иван Петров"]
    text = "\n".join(page_texts(cards.render([card(n, name=name) for n, name in enumerate(names)])))
    assert "Renée Dubois" in text and "Zoë Œuvre-Šimic" in text  # ć is not in Windows-1252, Š and Œ are
    assert "Lukasz Kowalski" in text  # Ł is not in the core fonts' encoding: its base letter
    assert "???? ??????" in text


def test_printable_keeps_windows_1252_and_replaces_the_rest() -> None:
    assert cards.printable("Núñez") == "Núñez"
    assert cards.printable("ǅemal Đorđević") == "Dzemal Dordevic"
    assert cards.printable("李") == "?"


def test_given_a_name_too_long_for_a_card_then_it_is_shrunk_then_cut_and_never_crosses_the_card() -> None:
    long_name = "Maximiliano-Bartholomew Alexandrovich " * 4
    pdf = cards.render([card(1, name=long_name)])
    text = page_texts(pdf)[0]
    assert "Maximiliano-Bartholomew" in text and "..." in text
    assert long_name.strip() not in text


def test_given_no_cards_then_one_empty_sheet_of_cut_lines() -> None:
    reader = read(cards.render([]))
    assert len(reader.pages) == 1 and reader.pages[0].extract_text().strip() == ""


def test_every_page_has_dashed_cut_lines_along_the_card_edges() -> None:
    reader = read(cards.render([card(n) for n in range(9)]))
    for page in reader.pages:
        content = page.get_contents()
        assert content is not None
        stream = content.get_data().decode("latin-1")
        assert re.search(r"\[4(\.0+)? 3(\.0+)?\] 0(\.0+)? d", stream), stream[:300]
        # 3 vertical and 5 horizontal lines: one "m ... l S" each
        assert len(re.findall(r" m [\d.]+ [\d.]+ l S", stream)) == cards.COLUMNS + 1 + cards.ROWS + 1


def test_importing_the_card_service_leaves_fpdf2_unloaded_until_a_pdf_is_made() -> None:
    # Given a fresh interpreter that imports the card service (as the API's routes do at cold start)
    script = (
        "import sys, intake.card_service, intake.cards as c; before = 'fpdf' in sys.modules; "
        "c.render([]); print(before, 'fpdf' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    # Then fpdf2 (about 180 ms of imports) is loaded only by the first render
    assert done.stdout.split() == ["False", "True"]
