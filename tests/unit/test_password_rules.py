"""A facility's password rule (intake.password_rules): given passwords, the blank-format language and its floor."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake import passwords
from intake.domain import CharacterClass, PasswordRule
from intake.errors import FieldError
from intake.password_rules import FormatError, blank_password, check_given, format_problem, parse_format

LOWER, UPPER, DIGIT, SYMBOL = CharacterClass.LOWER, CharacterClass.UPPER, CharacterClass.DIGIT, CharacterClass.SYMBOL
HELP = "{lastName} {firstName} {firstInitial} {docId} {docIdLast4} {random:N} {words:N}"
RANDOM_BITS = math.log2(len(passwords.RANDOM_ALPHABET))  # one {random} character
SYLLABLE_BITS = math.log2(len(passwords.CONSONANTS) * len(passwords.VOWELS))  # one {words} syllable


class Cycling:
    """A chooser that takes the options' elements in turn (0th, 1st, 2nd, ...), so each pick is visible."""

    def __init__(self, calls: int = 0) -> None:
        self.calls = calls

    def __call__(self, options: Sequence[str]) -> str:
        pick = options[self.calls % len(options)]
        self.calls += 1
        return pick


def _refusal(field: str, needs: str) -> FieldError:
    return FieldError(
        field, "INVALID_VALUE", f"{field} does not meet this facility's rule ({needs}): change it, or leave it blank"
    )


# ---------------------------------------------------------------- given passwords
def test_without_a_rule_any_password_is_accepted() -> None:
    assert check_given(None, "") is None


@pytest.mark.parametrize(("length", "ok"), [(9, False), (10, True), (11, True)])
def test_a_given_password_needs_the_minimum_length(length: int, ok: bool) -> None:
    # Given a rule of at least 10 characters and no classes
    rule = PasswordRule(min_length=10)
    # When a password of `length` characters is given
    error = check_given(rule, "a" * length)
    # Then only 10 or more comply, and the refusal names the field and the rule
    assert error == (None if ok else _refusal("password", "at least 10 characters"))


def test_the_refusal_names_the_field_it_was_given_for() -> None:
    assert check_given(PasswordRule(), "short", "passwordGiven") == _refusal("passwordGiven", "at least 8 characters")


@pytest.mark.parametrize(
    ("required", "password", "ok"),
    [
        (LOWER, "ABCDEFGH1!", False),
        (LOWER, "ABCDEFGh", True),
        (LOWER, "ABCDEFGé", True),
        (UPPER, "abcdefgh1!", False),
        (UPPER, "abcdefgH", True),
        (DIGIT, "abcdefgH!", False),
        (DIGIT, "abcdefg7", True),
        (SYMBOL, "abcdefgH1", False),
        (SYMBOL, "abcd efgH1", False),  # a space is not a symbol
        (SYMBOL, "abcdéfgH1", False),  # an accented letter is not a symbol
        (SYMBOL, "abcdefg!", True),
        (SYMBOL, "abcdefg-", True),
    ],
)
def test_each_required_class_needs_one_character_of_it(required: CharacterClass, password: str, ok: bool) -> None:
    rule = PasswordRule(required_classes=(required,))
    error = check_given(rule, password)
    assert (error is None) is ok, error


def test_the_refusal_lists_the_required_classes_in_the_rules_order() -> None:
    # Given a rule of 12 characters with a digit, an upper-case letter and a symbol
    rule = PasswordRule(min_length=12, required_classes=(DIGIT, UPPER, SYMBOL))
    needs = "at least 12 characters including a digit, an upper-case letter, a symbol"
    # When a long password lacks only the symbol, or a short one has every class
    # Then both are refused with the whole rule in words
    assert check_given(rule, "Abcdefghijk1") == _refusal("password", needs)
    assert check_given(rule, "Ab1!") == _refusal("password", needs)
    assert check_given(rule, "Abcdefghij1!") is None
    lower = PasswordRule(required_classes=(LOWER,))
    assert check_given(lower, "ABC") == _refusal("password", "at least 8 characters including a lower-case letter")


@given(st.text(max_size=20), st.integers(min_value=8, max_value=16), st.sets(st.sampled_from(list(CharacterClass))))
def test_check_given_accepts_exactly_the_long_enough_passwords_with_every_class(
    password: str, min_length: int, classes: set[CharacterClass]
) -> None:
    # Given any rule and any password
    rule = PasswordRule(min_length=min_length, required_classes=tuple(sorted(classes)))
    has = {
        LOWER: any(c.islower() for c in password),
        UPPER: any(c.isupper() for c in password),
        DIGIT: any(c.isdigit() for c in password),
        SYMBOL: any(not c.isalnum() and not c.isspace() for c in password),
    }
    # Then it is accepted exactly when it is long enough and has each required class
    assert (check_given(rule, password) is None) is (len(password) >= min_length and all(has[c] for c in classes))


# ---------------------------------------------------------------- the format language
def _parts(text: str) -> list[tuple[str, str, int]]:
    return [(p.literal, p.name, p.count) for p in parse_format(text).parts]


def test_a_format_is_parsed_into_literals_and_placeholders() -> None:
    assert _parts("{lastName}-{firstInitial}{docIdLast4}x{random:3}{words:2}") == [
        ("", "lastName", 0),
        ("-", "", 0),
        ("", "firstInitial", 0),
        ("", "docIdLast4", 0),
        ("x", "", 0),
        ("", "random", 3),
        ("", "words", 2),
    ]
    assert _parts("ab{firstName}{docId}cd") == [("ab", "", 0), ("", "firstName", 0), ("", "docId", 0), ("cd", "", 0)]
    assert _parts("plain") == [("plain", "", 0)]


def test_a_formats_shape_counts_fixed_and_random_characters_and_bits() -> None:
    # Given a format with two fixed characters, {random:5}, {words:3} and a name
    shape = parse_format("A{random:5}{lastName}{words:3}7")
    # Then names count for nothing, each syllable for two characters, and the bits are the alphabets'
    assert (shape.fixed_chars, shape.random_chars, shape.least_length) == (2, 11, 13)
    assert shape.random_bits == pytest.approx(5 * RANDOM_BITS + 3 * SYLLABLE_BITS)
    assert parse_format("{words:4}").random_bits == pytest.approx(24.0)
    assert parse_format("{random:9}").random_bits == pytest.approx(9 * RANDOM_BITS)
    names = parse_format("{lastName}{docId}")
    assert (names.fixed_chars, names.random_chars, names.random_bits, names.least_length) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("text", "sure"),
    [
        ("{lastName}{random:9}", set()),
        ("a{random:9}", {LOWER}),
        ("{words:1}", {LOWER}),
        ("Z9{random:9}", {UPPER, DIGIT}),
        ("{random:9}#", {SYMBOL}),
        ("x Y", {LOWER, UPPER}),  # a space is no symbol
    ],
)
def test_a_formats_sure_classes_come_from_its_literals_and_words(text: str, sure: set[CharacterClass]) -> None:
    assert parse_format(text).sure_classes == frozenset(sure)


@pytest.mark.parametrize("text", ["{random:1}", "{random:32}", "{words:1}", "{words:32}"])
def test_random_parts_take_1_to_32(text: str) -> None:
    assert parse_format(text).parts[0].count == int(text[text.index(":") + 1 : -1])


@pytest.mark.parametrize(
    ("text", "name"), [("{random:0}", "random"), ("{random:33}", "random"), ("{words:0}", "words")]
)
def test_a_random_part_out_of_range_is_refused(text: str, name: str) -> None:
    with pytest.raises(FormatError) as raised:
        parse_format(text)
    assert str(raised.value) == f"{{{name}:N}} takes N from 1 to 32"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("{password}", "password"),
        ("{random}", "random"),
        ("{random:x}", "random"),
        ("{words:-2}", "words"),
        ("{lastName:3}", "lastName"),
        ("{}", ""),
    ],
)
def test_an_unknown_or_malformed_placeholder_is_refused(text: str, name: str) -> None:
    with pytest.raises(FormatError) as raised:
        parse_format(text)
    assert str(raised.value) == f"blankFormat has an unknown placeholder {{{name}}}: use only {HELP}"


@pytest.mark.parametrize("text", ["{lastName", "lastName}", "{random:9}}", "{{docId}"])
def test_a_stray_brace_is_refused(text: str) -> None:
    with pytest.raises(FormatError) as raised:
        parse_format(text)
    assert str(raised.value) == f"blankFormat has a brace that is not a placeholder: use only {HELP}"


# ---------------------------------------------------------------- the strength floor, when settings are saved
@pytest.mark.parametrize("blank_format", [None, ""])
def test_no_format_has_no_problem(blank_format: str | None) -> None:
    assert format_problem(PasswordRule(blank_format=blank_format)) is None


def test_a_malformed_format_is_a_problem_in_the_parsers_words() -> None:
    assert format_problem(PasswordRule(blank_format="{pin}")) == (
        f"blankFormat has an unknown placeholder {{pin}}: use only {HELP}"
    )


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", " "])
def test_a_format_that_would_start_a_spreadsheet_formula_is_a_problem(start: str) -> None:
    assert format_problem(PasswordRule(blank_format=f"{start}{{random:12}}")) == (
        "blankFormat may not start with = + - @ or a space: a spreadsheet would read the password as a formula"
    )


@pytest.mark.parametrize(
    ("blank_format", "ok"),
    [
        ("{random:9}", True),  # 43.3 bits
        ("{random:8}", False),  # 38.4 bits, 8 characters
        ("{words:2}{random:6}", True),  # 40.8 bits, 10 characters
        ("{words:1}{random:7}", False),  # 39.6 bits, 9 characters
        ("abcdef{random:6}", True),  # 28.8 bits, but 12 characters of which 6 random
        ("abcde{random:6}", False),  # 11 characters
        ("abcdefg{random:5}", False),  # 12 characters, 5 random
        ("{lastName}abcdefgh{random:6}", True),
        ("{words:3}", False),  # 18 bits, 6 characters
        ("abcdefgh{words:3}", True),  # 14 characters of which 6 random
    ],
)
def test_the_floor_is_40_random_bits_or_12_characters_with_6_random(blank_format: str, ok: bool) -> None:
    problem = format_problem(PasswordRule(blank_format=blank_format))
    assert (problem is None) is ok, problem


def test_a_guessable_format_is_told_why_and_how_to_fix_it() -> None:
    # Given a format of names and DOC ID digits only, and one with too small a random part
    only_names = format_problem(PasswordRule(blank_format="{lastName}{docIdLast4}"))
    small = format_problem(PasswordRule(blank_format="{lastName}{random:4}"))
    fix = "Add {random:9} (or more), or make it at least 12 fixed and random characters with {random:6} or more"
    # Then each is told its bits and the fix; only the first that names and digits are known
    assert only_names == (
        "blankFormat makes guessable passwords: names and DOC ID digits are known to other learners, and its random "
        f"part has 0 bits. {fix}"
    )
    assert small == f"blankFormat makes guessable passwords: its random part has 19 bits. {fix}"


@pytest.mark.parametrize(("min_length", "ok"), [(13, True), (14, False)])
def test_a_format_shorter_than_the_facilitys_minimum_is_a_problem(min_length: int, ok: bool) -> None:
    # Given a format that makes at least 13 characters (names can be empty)
    rule = PasswordRule(min_length=min_length, blank_format="{firstName}abcd{random:9}")
    # Then a minimum of 14 is a problem, in words
    expected = (
        "blankFormat can make passwords of 13 characters, shorter than this facility's minimum of 14 (names can be "
        "empty): lengthen its random part"
    )
    assert format_problem(rule) == (None if ok else expected)


def test_a_format_without_a_required_class_is_a_problem_naming_each_missing_one() -> None:
    rule = PasswordRule(required_classes=(UPPER, LOWER, SYMBOL, DIGIT), blank_format="{random:9}x")
    assert format_problem(rule) == (
        "blankFormat's passwords do not always include an upper-case letter, a symbol, a digit, which this "
        "facility's rule requires: add them as fixed characters"
    )
    complete = PasswordRule(required_classes=(UPPER, LOWER, SYMBOL, DIGIT), blank_format="A!1{words:5}")
    assert format_problem(complete) is None


# ---------------------------------------------------------------- blank passwords
@pytest.mark.parametrize("rule", [None, PasswordRule(), PasswordRule(blank_format="")])
def test_without_a_format_the_random_generator_makes_the_password(rule: PasswordRule | None) -> None:
    made = blank_password(rule, "Ann", "Lee", "100201", Cycling())
    assert made == passwords.generate_password(Cycling())


def test_a_format_is_filled_with_typable_names_the_doc_id_and_random_parts() -> None:
    # Given a usable format with every placeholder
    rule = PasswordRule(
        min_length=8, blank_format="{lastName}.{firstName}.{firstInitial}{docId}-{docIdLast4}{random:4}{words:2}!"
    )
    # When a learner with accents and punctuation in the names is created without a password
    made = blank_password(rule, "Élodie Ann", "Núñez-O'Brien", "A100201", Cycling())
    # Then names are typable (accents dropped, only letters and digits), and random parts follow the chooser
    alphabet = passwords.RANDOM_ALPHABET
    random4 = alphabet[0:4]
    words = passwords.CONSONANTS[4] + passwords.VOWELS[5 % 4] + passwords.CONSONANTS[6] + passwords.VOWELS[7 % 4]
    assert made == f"NunezOBrien.ElodieAnn.EA100201-0201{random4}{words}!"


def test_a_name_with_nothing_typable_leaves_its_placeholder_empty() -> None:
    rule = PasswordRule(blank_format="{firstInitial}{lastName}{random:9}")
    made = blank_password(rule, "李", "\u0301", "7", Cycling())
    assert made == passwords.RANDOM_ALPHABET[:9]


def test_a_stored_unusable_format_falls_back_to_the_generator_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # Given a format saved before formats were checked (4 DOC ID digits)
    rule = PasswordRule(blank_format="{docIdLast4}")
    # When a blank password is made for a learner of facility FAC-1
    with caplog.at_level(logging.WARNING):
        made = blank_password(rule, "Ann", "Lee", "100201", Cycling(), facility_id="FAC-1")
    # Then it is a random one, and the warning names only the facility
    assert made == passwords.generate_password(Cycling())
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert record.getMessage() == "blank password format not used: a random password was generated instead"
    assert record.__dict__["facility_id"] == "FAC-1"
    assert "100201" not in caplog.text and "Lee" not in caplog.text


def test_a_stored_guessable_format_is_not_used_even_when_its_password_meets_the_rule(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a stored guessable format whose output for this learner is long enough for the rule
    rule = PasswordRule(blank_format="{lastName}{docIdLast4}")
    assert check_given(rule, "Andersen0201") is None
    # When a blank password is made
    with caplog.at_level(logging.WARNING):
        made = blank_password(rule, "Ann", "Andersen", "100201", Cycling(), facility_id="FAC-2")
    # Then the format's password is not used: the generator's is
    assert made == passwords.generate_password(Cycling())
    assert [r.__dict__["facility_id"] for r in caplog.records if r.levelno == logging.WARNING] == ["FAC-2"]


@pytest.mark.parametrize("doc_id", ["=1+2", "-42", "@SUM", " 12"])
def test_a_made_password_that_would_start_a_formula_falls_back_to_the_generator(
    doc_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a usable format that starts with the DOC ID, and a DOC ID a spreadsheet would read as a formula
    rule = PasswordRule(blank_format="{docId}{random:9}")
    # When a blank password is made, for no named facility
    with caplog.at_level(logging.WARNING):
        made = blank_password(rule, "Ann", "Lee", doc_id, Cycling())
    # Then the random generator is used instead (with the chooser after the format's 9 picks)
    assert made == passwords.generate_password(Cycling(9))
    # And the warning names no facility rather than a made-up one
    assert [r.__dict__["facility_id"] for r in caplog.records if r.levelno == logging.WARNING] == [""]
    assert blank_password(rule, "Ann", "Lee", "12", Cycling()) == "12" + passwords.RANDOM_ALPHABET[:9]


def test_a_made_password_that_breaks_the_rule_falls_back_to_the_generator() -> None:
    # Given a usable format, and a chooser that picks empty random parts (a broken chooser, not the real one)
    rule = PasswordRule(min_length=9, blank_format="{random:9}")

    def empty(options: Sequence[str]) -> str:
        return ""

    # Then a password shorter than the rule is never returned: the generator's is
    assert blank_password(rule, "Ann", "Lee", "12", empty) == passwords.generate_password(empty)


@given(
    st.text(max_size=12),
    st.text(max_size=12),
    st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,19}", fullmatch=True),
    st.sampled_from(["{lastName}{random:9}", "Z!{firstInitial}{docIdLast4}{words:7}", "{docId}-{random:6}abcdef"]),
)
def test_a_usable_format_always_makes_a_password_that_meets_the_rule(
    first: str, last: str, doc_id: str, blank_format: str
) -> None:
    # Given a usable format under a rule
    rule = PasswordRule(min_length=9, blank_format=blank_format)
    assert format_problem(rule) is None
    # When any learner gets a blank password
    made = blank_password(rule, first, last, doc_id)
    # Then it meets the rule, is typable and never starts a formula
    assert check_given(rule, made) is None
    assert made.isascii() and not made.startswith(("=", "+", "-", "@", "\t", "\r", " "))
