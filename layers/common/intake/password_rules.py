"""A facility's password rule: checks for given passwords, and the format blank passwords are made from."""

from __future__ import annotations

import re
import unicodedata

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


def blank_password(rule: PasswordRule | None, first_name: str, last_name: str, doc_id: str) -> str:
    """The password of a learner created without one: the facility's format if it has one, else a random one."""
    if rule is None or not rule.blank_format:
        return passwords.generate_password()
    values = {
        "lastName": _typable(last_name),
        "firstName": _typable(first_name),
        "firstInitial": _typable(first_name)[:1],
        "docId": doc_id,
        "docIdLast4": doc_id[-4:],
    }
    result = rule.blank_format
    for name, value in values.items():
        result = result.replace("{" + name + "}", value)
    return result
