"""Ghost's ids: ULIDs as text (26 characters of Crockford base32, time-ordered).

`new_id()` makes the same ids as `str(ulid.ULID())` and shares python-ulid's generator, so
ids made in the same millisecond still sort in the order they were made, whichever of the
two made them. It only encodes faster: every captured flow needs one.
"""

from __future__ import annotations

import functools
import time

import ulid

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# two base32 digits (10 bits) per lookup: a 128-bit ULID is 13 lookups
_PAIRS = tuple(high + low for high in ALPHABET for low in ALPHABET)


@functools.lru_cache(maxsize=4)
def _time_text(ms: int) -> str:
    """The first 10 characters: the 48-bit millisecond timestamp (as 50 bits)."""
    return "".join(_PAIRS[(ms >> shift) & 1023] for shift in (40, 30, 20, 10, 0))


def _randomness_text(value: int) -> str:
    """The last 16 characters: the 80 random bits."""
    p = _PAIRS
    return (p[value >> 70] + p[(value >> 60) & 1023] + p[(value >> 50) & 1023] + p[(value >> 40) & 1023]
            + p[(value >> 30) & 1023] + p[(value >> 20) & 1023] + p[(value >> 10) & 1023] + p[value & 1023])


def new_id() -> str:
    """A new ULID as text, monotonic within the process."""
    generator = ulid.default_generator
    ms = time.time_ns() // 1_000_000
    with generator.lock:
        randomness = generator.policy.resolve_randomness(ms, generator.randomness_source)
    return _time_text(ms) + _randomness_text(int.from_bytes(randomness))
