"""Generated passwords (readable aloud, typed on a tablet) and Argon2id hashing."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import os
import secrets
from collections.abc import Callable, Sequence
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.low_level import Type

# No look-alikes: no l (1/I), no o (0), no q (g), no c/k and x (said alike); consonant-vowel syllables read aloud.
CONSONANTS = "bdfghjkmnprstvwz"
VOWELS = "aeiu"
DIGITS = "23456789"
SYLLABLES_PER_GROUP = 2
GROUPS = 4
DIGIT_COUNT = 2
# The characters of a format's {random:N}: letters and digits without look-alikes, all lower case.
RANDOM_ALPHABET = CONSONANTS + VOWELS + DIGITS

Chooser = Callable[[Sequence[str]], str]

# OWASP's Argon2id minimum (m=19 MiB, t=2, p=1).
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19456
ARGON2_PARALLELISM = 1


def generate_password(choose: Chooser = secrets.choice) -> str:
    """A random password like `bada-fime-gusa-tahu-47`: four groups of two syllables, then two digits.

    `choose` picks one element uniformly: `secrets.choice`, or a `derived_chooser` when every attempt of the same
    bulk row must make the same password.
    """
    groups = ["".join(choose(CONSONANTS) + choose(VOWELS) for _ in range(SYLLABLES_PER_GROUP)) for _ in range(GROUPS)]
    digits = "".join(choose(DIGITS) for _ in range(DIGIT_COUNT))
    return "-".join([*groups, digits])


def random_part(length: int, choose: Chooser = secrets.choice) -> str:
    """`length` characters of RANDOM_ALPHABET (a format's {random:N})."""
    return "".join(choose(RANDOM_ALPHABET) for _ in range(length))


def random_part_entropy_bits(length: int) -> float:
    return length * math.log2(len(RANDOM_ALPHABET))


class _DerivedStream:
    """Uniform choices from HMAC-SHA256(key, label || counter): the same key and label always choose the same."""

    def __init__(self, key: bytes, label: str) -> None:
        self._key = key
        self._label = label.encode()
        self._counter = 0
        self._buffer = b""

    def _byte(self) -> int:
        if not self._buffer:
            block = self._label + b"\x00" + self._counter.to_bytes(8, "big")
            self._buffer = hmac.new(self._key, block, hashlib.sha256).digest()
            self._counter += 1
        value, self._buffer = self._buffer[0], self._buffer[1:]
        return value

    def __call__(self, options: Sequence[str]) -> str:
        size = len(options)
        if not 0 < size <= 256:
            raise ValueError("a derived choice is among 1 to 256 options")
        limit = 256 - 256 % size  # rejection sampling: every option equally likely
        while (value := self._byte()) >= limit:
            pass
        return options[value % size]


def derived_chooser(key: bytes, label: str) -> Chooser:
    """A chooser whose picks are a pseudo-random function of a secret key and a label (e.g. upload and line)."""
    return _DerivedStream(key, label)


# ------------------------------------------------------------------ envelope encryption of given passwords

_NONCE_BYTES = 12
_NONCES_AT_ONCE = 256


def seal(key: bytes, text: str, context: str) -> str:
    """`text` encrypted with AES-256-GCM under `key`, bound to `context` (e.g. upload and line): base64 of nonce+ct."""
    return sealer(key, nonces_at_once=1)(text, context)


def sealer(key: bytes, nonces_at_once: int = _NONCES_AT_ONCE) -> Callable[[str, str], str]:
    """`seal` under one key, its cipher made once: sealed(text, context). The validator seals every given password
    of an upload under the upload's one data key; making the cipher per password cost more than the encryption."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    encrypt, urandom, encode = AESGCM(key).encrypt, os.urandom, binascii.b2a_base64
    # Random nonces as seal's, read from the OS nonces_at_once at a time (one system call, not one per password):
    # each nonce is its own fresh slice of the CSPRNG's output, used once.
    nonces: list[bytes] = []

    def sealed(text: str, context: str) -> str:
        if not nonces:
            pool = urandom(_NONCE_BYTES * nonces_at_once)
            nonces.extend(pool[at : at + _NONCE_BYTES] for at in range(0, len(pool), _NONCE_BYTES))
        nonce = nonces.pop()
        return encode(nonce + encrypt(nonce, text.encode("utf-8"), context.encode()), newline=False).decode("ascii")

    return sealed


class SealBroken(Exception):
    """A sealed value that does not open with this key and context (tampered, or sealed under another key)."""


def unseal(key: bytes, sealed: str, context: str) -> str:
    """The text of a `seal`; SealBroken if it was changed, or sealed for another key or context."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.b64decode(sealed, validate=True)
        return AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()).decode("utf-8")
    except (InvalidTag, ValueError) as exc:
        raise SealBroken("the sealed value does not open") from exc


def generated_password_entropy_bits() -> float:
    """The entropy of generate_password(), from the sizes of its alphabets."""
    syllable = math.log2(len(CONSONANTS) * len(VOWELS))
    return GROUPS * SYLLABLES_PER_GROUP * syllable + DIGIT_COUNT * math.log2(len(DIGITS))


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=ARGON2_TIME_COST,
        memory_cost=ARGON2_MEMORY_KIB,
        parallelism=ARGON2_PARALLELISM,
        type=Type.ID,
    )


def hash_password(password: str) -> str:
    """The Argon2id hash (PHC string) that is stored instead of the password."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash."""
    try:
        return _hasher().verify(password_hash, password)
    except Exception:  # argon2 raises VerifyMismatchError, InvalidHashError and friends
        return False


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """The hash of a random password nobody knows, with the same parameters as every stored hash: a sign-in for an
    unknown login verifies against it, so it costs the same CPU as one for a known login (existence stays hidden)."""
    return hash_password(secrets.token_urlsafe(32))


def needs_rehash(password_hash: str) -> bool:
    """Whether a stored hash was made with other parameters than today's (argon2's check_needs_rehash)."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except Exception:  # an unreadable hash: a new one is the fix, but only after a verify succeeded against it
        return True
