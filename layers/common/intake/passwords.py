"""Generated passwords (readable aloud, typed on a tablet) and Argon2id hashing."""

from __future__ import annotations

import math
import secrets
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

# OWASP's Argon2id minimum (m=19 MiB, t=2, p=1).
ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 19456
ARGON2_PARALLELISM = 1


def generate_password() -> str:
    """A random password like `bada-fime-gusa-tahu-47`: four groups of two syllables, then two digits."""
    groups = [
        "".join(secrets.choice(CONSONANTS) + secrets.choice(VOWELS) for _ in range(SYLLABLES_PER_GROUP))
        for _ in range(GROUPS)
    ]
    digits = "".join(secrets.choice(DIGITS) for _ in range(DIGIT_COUNT))
    return "-".join([*groups, digits])


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
