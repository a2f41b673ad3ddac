"""Passwords: generated ones are readable and random, hashes are Argon2id, sealed values open only where sealed."""

from __future__ import annotations

import base64
import math
import os
import re

import pytest

from intake import passwords
from intake.passwords import (
    CONSONANTS,
    DIGITS,
    RANDOM_ALPHABET,
    VOWELS,
    SealBroken,
    derived_chooser,
    generate_password,
    generated_password_entropy_bits,
    hash_password,
    random_part,
    random_part_entropy_bits,
    seal,
    unseal,
    verify_password,
)

SHAPE = re.compile(rf"^(?:(?:[{CONSONANTS}][{VOWELS}]){{2}}-){{4}}[{DIGITS}]{{2}}$")
KEY = bytes(range(32))


# ------------------------------------------------------------------ generated passwords


def test_generated_password_has_the_readable_shape() -> None:
    # When passwords are generated, Then each is four groups of two syllables and two digits
    for _ in range(50):
        assert SHAPE.match(generate_password())


def test_generated_passwords_differ() -> None:
    # When many passwords are generated with the system's randomness, Then they are (practically) all different
    assert len({generate_password() for _ in range(200)}) == 200


def test_no_look_alike_characters_in_the_alphabets() -> None:
    # Then none of l 1 I o 0 q (look-alikes) nor c x (said like k) is ever chosen
    assert not set("l1Io0qcx") & set(RANDOM_ALPHABET)
    assert set(RANDOM_ALPHABET) == set(CONSONANTS) | set(VOWELS) | set(DIGITS)


def test_random_part_has_its_length_from_the_alphabet() -> None:
    part = random_part(9)
    assert len(part) == 9 and set(part) <= set(RANDOM_ALPHABET)
    assert random_part(0) == ""


def test_entropy_follows_the_alphabet_sizes() -> None:
    # Then the generated password's entropy is 8 syllables of 16*4 and 2 digits of 8: 8*6 + 2*3 = 54 bits
    assert generated_password_entropy_bits() == pytest.approx(54.0)
    assert random_part_entropy_bits(9) == pytest.approx(9 * math.log2(28))


# ------------------------------------------------------------------ derived choices


def test_derived_chooser_is_deterministic_per_key_and_label() -> None:
    # Given the same key and label twice
    first = generate_password(derived_chooser(KEY, "upl-1:2:generated"))
    again = generate_password(derived_chooser(KEY, "upl-1:2:generated"))
    # Then every attempt makes the same password
    assert first == again
    assert SHAPE.match(first)


def test_derived_chooser_differs_by_label_and_by_key() -> None:
    base = generate_password(derived_chooser(KEY, "upl-1:2:generated"))
    # When the line or the key differs, Then the password differs
    assert generate_password(derived_chooser(KEY, "upl-1:3:generated")) != base
    assert generate_password(derived_chooser(bytes(32), "upl-1:2:generated")) != base


def test_derived_chooser_is_uniform_enough() -> None:
    # Given many derived choices among three options (256 % 3 != 0: rejection sampling keeps them even)
    choose = derived_chooser(KEY, "uniform")
    picks = [choose("abc") for _ in range(6000)]
    # Then each option comes about a third of the time
    for option in "abc":
        assert 1800 < picks.count(option) < 2200


@pytest.mark.parametrize("options", ["", "x" * 257])
def test_derived_chooser_refuses_empty_or_too_many_options(options: str) -> None:
    with pytest.raises(ValueError, match="1 to 256"):
        derived_chooser(KEY, "x")(options)


# ------------------------------------------------------------------ sealing given passwords


def test_seal_round_trips_and_hides_the_text() -> None:
    # Given a password sealed for one row
    sealed = seal(KEY, "Sunrise4242é", "upl-1:2:given")
    # Then it does not show the text, and it opens with the same key and context
    assert "Sunrise4242" not in sealed
    assert "Sunrise4242" not in base64.b64decode(sealed).decode("latin-1")
    assert unseal(KEY, sealed, "upl-1:2:given") == "Sunrise4242é"


def test_sealing_twice_gives_different_values() -> None:
    # A fresh nonce each time: the same password in two rows does not look the same
    assert seal(KEY, "Sunrise4242", "c") != seal(KEY, "Sunrise4242", "c")


def test_a_sealer_seals_as_seal_does_with_a_fresh_nonce_for_every_value() -> None:
    # Given one upload's sealer, and 600 passwords (more than two reads of nonces from the OS)
    sealed = passwords.sealer(KEY)
    texts = [f"Sunrise{n:04d}" for n in range(600)]
    # When each is sealed for its own line, and the first one once more
    values = [sealed(text, f"upl-1:{n}:given") for n, text in enumerate(texts)]
    again = sealed(texts[0], "upl-1:0:given")
    # Then each opens with seal's own unseal, for its line only, and no two values share a nonce
    assert [unseal(KEY, value, f"upl-1:{n}:given") for n, value in enumerate(values)] == texts
    with pytest.raises(SealBroken):
        unseal(KEY, values[1], "upl-1:0:given")
    nonces = {base64.b64decode(value)[:12] for value in [*values, again]}
    assert len(nonces) == 601 and again != values[0]


def test_a_sealed_value_does_not_open_for_another_context() -> None:
    # Given a value sealed for line 2
    sealed = seal(KEY, "Sunrise4242", "upl-1:2:given")
    # When it is opened as line 3's (moved to another row) or as another use, Then it is broken
    with pytest.raises(SealBroken):
        unseal(KEY, sealed, "upl-1:3:given")
    with pytest.raises(SealBroken):
        unseal(KEY, sealed, "upl-1:2:result")


def test_a_sealed_value_does_not_open_with_another_key() -> None:
    sealed = seal(KEY, "Sunrise4242", "c")
    with pytest.raises(SealBroken):
        unseal(os.urandom(32), sealed, "c")


@pytest.mark.parametrize("position", [0, 12, -1])
def test_a_tampered_sealed_value_is_broken(position: int) -> None:
    # Given a sealed value with one byte changed (in the nonce, the ciphertext, the tag)
    raw = bytearray(base64.b64decode(seal(KEY, "Sunrise4242", "c")))
    raw[position] ^= 0x01
    # Then it does not open
    with pytest.raises(SealBroken):
        unseal(KEY, base64.b64encode(bytes(raw)).decode(), "c")


@pytest.mark.parametrize("sealed", ["not base64!", "", base64.b64encode(b"short").decode()])
def test_garbage_is_broken_not_a_crash(sealed: str) -> None:
    with pytest.raises(SealBroken):
        unseal(KEY, sealed, "c")


# ------------------------------------------------------------------ hashing


def test_hash_is_argon2id_with_the_owasp_parameters() -> None:
    # When a password is hashed
    stored = hash_password("Sunrise4242")
    # Then the PHC string is Argon2id with m=19 MiB, t=2, p=1, and holds no password
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "Sunrise4242" not in stored


def test_verify_accepts_the_password_and_refuses_others() -> None:
    stored = hash_password("Sunrise4242")
    assert verify_password(stored, "Sunrise4242") is True
    assert verify_password(stored, "sunrise4242") is False
    assert verify_password(stored, "") is False


def test_the_same_password_hashes_differently_each_time() -> None:
    # A random salt each time
    first, second = hash_password("Sunrise4242"), hash_password("Sunrise4242")
    assert first != second
    assert verify_password(first, "Sunrise4242") and verify_password(second, "Sunrise4242")


@pytest.mark.parametrize("stored", ["", "plain-text", "$argon2id$v=19$broken", "$2b$12$" + "a" * 53])
def test_verify_of_a_bad_hash_is_false_not_an_error(stored: str) -> None:
    assert verify_password(stored, "Sunrise4242") is False


def test_the_hasher_is_built_once() -> None:
    assert passwords._hasher() is passwords._hasher()


def test_the_dummy_hash_has_todays_parameters_is_made_once_and_matches_no_guess() -> None:
    # Given the dummy hash a sign-in for an unknown login verifies against
    dummy = passwords.dummy_hash()
    # Then it is one hash per process, with the parameters of every stored hash, of a password nobody knows
    assert passwords.dummy_hash() is dummy
    assert not passwords.needs_rehash(dummy)
    assert dummy.startswith(f"$argon2id$v=19$m={passwords.ARGON2_MEMORY_KIB},t={passwords.ARGON2_TIME_COST},p=1$")
    assert not passwords.verify_password(dummy, "")
    assert not passwords.verify_password(dummy, "bada-fime-gusa-tahu-47")


def test_a_hash_with_other_parameters_needs_a_rehash() -> None:
    from argon2 import PasswordHasher

    # Given a hash made with weaker parameters, and one made today
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("Gardenia-Road-77")
    today = passwords.hash_password("Gardenia-Road-77")
    # Then only the weak one needs a rehash; both still verify
    assert passwords.needs_rehash(weak) and not passwords.needs_rehash(today)
    assert passwords.verify_password(weak, "Gardenia-Road-77") and passwords.verify_password(today, "Gardenia-Road-77")
