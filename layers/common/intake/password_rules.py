"""A facility's password rule: checks for given passwords, and the format blank passwords are made from."""

from __future__ import annotations

import math
import re
import secrets
import unicodedata
from dataclasses import dataclass

from intake import passwords
from intake.domain import CharacterClass, PasswordRule
from intake.errors import FieldError

_CLASS_TESTS = {
    CharacterClass.LOWER: str.islower,
    CharacterClass.UPPER: str.isupper,
    CharacterClass.DIGIT: str.isdigit,
    CharacterClass.SYMBOL: lambda char: not char.isalnum() and not char.isspace(),
}
_CLASS_NAMES = {
    CharacterClass.LOWER: "a lower-case letter",
    CharacterClass.UPPER: "an upper-case letter",
    CharacterClass.DIGIT: "a digit",
    CharacterClass.SYMBOL: "a symbol",
}
_NOT_TYPABLE = re.compile(r"[^A-Za-z0-9]")


def check_given(rule: PasswordRule | None, password: str, field: str = "password") -> FieldError | None:
    """What a given password lacks under the facility's rule (None: it complies, or there is no rule)."""
    if rule is None:
        return None
    missing = [c.value for c in rule.required_classes if not any(_CLASS_TESTS[c](char) for char in password)]
    if len(password) >= rule.min_length and not missing:
        return None
    needs = f"at least {rule.min_length} characters"
    if rule.required_classes:
        needs += " including " + ", ".join(_CLASS_NAMES[c] for c in rule.required_classes)
    return FieldError(
        field, "INVALID_VALUE", f"{field} does not meet this facility's rule ({needs}): change it, or leave it blank"
    )


def _typable(value: str) -> str:
    """A name as one types it on a tablet: accents dropped, only letters and digits."""
    return _NOT_TYPABLE.sub("", unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode())


# ------------------------------------------------------------------ the blank-password format language
# Guessable placeholders (what other learners know or can read off a card) and random ones, whose entropy counts.
GUESSABLE = ("lastName", "firstName", "firstInitial", "docId", "docIdLast4")
RANDOM_PLACEHOLDERS = ("random", "words")  # {random:N}: N letters/digits; {words:N}: N syllables like "ba"
MAX_RANDOM = 32
# The strength floor: a random part of at least MIN_RANDOM_BITS, or at least MIN_LENGTH characters of which at
# least MIN_RANDOM_CHARS are random.
MIN_RANDOM_BITS = 40
MIN_LENGTH = 12
MIN_RANDOM_CHARS = 6
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", " ")
_TOKEN = re.compile(r"\{([^{}:]*)(?::([^{}]*))?\}")
_SYLLABLE_BITS = math.log2(len(passwords.CONSONANTS) * len(passwords.VOWELS))
PLACEHOLDER_HELP = "{lastName} {firstName} {firstInitial} {docId} {docIdLast4} {random:N} {words:N}"


class FormatError(ValueError):
    """A blank-password format that cannot be used, with the reason in words staff can act on."""


@dataclass(frozen=True)
class _Part:
    literal: str = ""
    name: str = ""
    count: int = 0


@dataclass(frozen=True)
class FormatShape:
    """What any output of a format is sure to have: fixed and random characters, random bits, character classes."""

    parts: tuple[_Part, ...]
    fixed_chars: int
    random_chars: int
    random_bits: float
    sure_classes: frozenset[CharacterClass]

    @property
    def least_length(self) -> int:
        """The shortest output: names can be empty once made typable, so only fixed and random characters count."""
        return self.fixed_chars + self.random_chars


def parse_format(text: str) -> FormatShape:
    """The parts of a format; FormatError if a placeholder is unknown or malformed."""
    parts: list[_Part] = []
    position = 0
    for match in _TOKEN.finditer(text):
        parts.append(_Part(literal=text[position : match.start()]))
        parts.append(_parse_placeholder(match.group(1), match.group(2)))
        position = match.end()
    parts.append(_Part(literal=text[position:]))
    literals = "".join(part.literal for part in parts)
    if "{" in literals or "}" in literals:
        raise FormatError(f"blankFormat has a brace that is not a placeholder: use only {PLACEHOLDER_HELP}")
    random_chars = sum(p.count if p.name == "random" else 2 * p.count for p in parts if p.name in RANDOM_PLACEHOLDERS)
    bits = sum(
        passwords.random_part_entropy_bits(p.count) if p.name == "random" else p.count * _SYLLABLE_BITS
        for p in parts
        if p.name in RANDOM_PLACEHOLDERS
    )
    sure = {c for c, test in _CLASS_TESTS.items() if any(test(char) for char in literals)}
    if any(p.name == "words" for p in parts):
        sure.add(CharacterClass.LOWER)
    return FormatShape(
        parts=tuple(p for p in parts if p.name or p.literal),
        fixed_chars=len(literals),
        random_chars=random_chars,
        random_bits=bits,
        sure_classes=frozenset(sure),
    )


def _parse_placeholder(name: str, argument: str | None) -> _Part:
    if name in GUESSABLE and argument is None:
        return _Part(name=name)
    if name in RANDOM_PLACEHOLDERS and argument is not None and argument.isdigit():
        count = int(argument)
        if 1 <= count <= MAX_RANDOM:
            return _Part(name=name, count=count)
        raise FormatError(f"{{{name}:N}} takes N from 1 to {MAX_RANDOM}")
    raise FormatError(f"blankFormat has an unknown placeholder {{{name}}}: use only {PLACEHOLDER_HELP}")


def format_problem(rule: PasswordRule) -> str | None:
    """Why a rule's blank format may not be used (None: it may). Checked when settings are saved."""
    if not rule.blank_format:
        return None
    try:
        shape = parse_format(rule.blank_format)
    except FormatError as exc:
        return str(exc)
    if rule.blank_format.startswith(FORMULA_STARTS):
        return "blankFormat may not start with = + - @ or a space: a spreadsheet would read the password as a formula"
    if shape.random_bits < MIN_RANDOM_BITS and not (
        shape.least_length >= MIN_LENGTH and shape.random_chars >= MIN_RANDOM_CHARS
    ):
        guessable = "" if shape.random_chars else " names and DOC ID digits are known to other learners, and"
        return (
            f"blankFormat makes guessable passwords:{guessable} its random part has "
            f"{shape.random_bits:.0f} bits. Add {{random:9}} (or more), or make it at least {MIN_LENGTH} fixed and "
            f"random characters with {{random:{MIN_RANDOM_CHARS}}} or more"
        )
    if shape.least_length < rule.min_length:
        return (
            f"blankFormat can make passwords of {shape.least_length} characters, shorter than this facility's "
            f"minimum of {rule.min_length} (names can be empty): lengthen its random part"
        )
    missing = [_CLASS_NAMES[c] for c in rule.required_classes if c not in shape.sure_classes]
    if missing:
        return (
            "blankFormat's passwords do not always include " + ", ".join(missing) + ", which this facility's rule "
            "requires: add them as fixed characters"
        )
    return None


def _fill(shape: FormatShape, values: dict[str, str], choose: passwords.Chooser) -> str:
    out = []
    for part in shape.parts:
        if part.name == "random":
            out.append(passwords.random_part(part.count, choose))
        elif part.name == "words":
            out.append("".join(choose(passwords.CONSONANTS) + choose(passwords.VOWELS) for _ in range(part.count)))
        elif part.name:
            out.append(values[part.name])
        else:
            out.append(part.literal)
    return "".join(out)


def blank_password(
    rule: PasswordRule | None,
    first_name: str,
    last_name: str,
    doc_id: str,
    choose: passwords.Chooser = secrets.choice,
    facility_id: str = "",
) -> str:
    """The password of a learner created without one: the facility's format if it has a usable one, else random.

    A stored format that fails the checks (saved before they existed) never makes a weak password: the random
    generator is used instead, with a warning naming only the facility.
    """
    if rule is None or not rule.blank_format:
        return passwords.generate_password(choose)
    problem = format_problem(rule)
    if problem is None:
        shape = parse_format(rule.blank_format)
        values = {
            "lastName": _typable(last_name),
            "firstName": _typable(first_name),
            "firstInitial": _typable(first_name)[:1],
            "docId": doc_id,
            "docIdLast4": doc_id[-4:],
        }
        made = _fill(shape, values, choose)
        if check_given(rule, made) is None and not made.startswith(FORMULA_STARTS):
            return made
    from intake.observability import logger

    logger.warning(
        "blank password format not used: a random password was generated instead",
        extra={"facility_id": facility_id},
    )
    return passwords.generate_password(choose)
