"""new_id(): python-ulid's ids, encoded faster, monotonic with python-ulid's own."""

from __future__ import annotations

import time

from ulid import ULID

from ghost_addons.ids import _randomness_text, _time_text, new_id


def test_ids_are_valid_ulids_of_now():
    before = time.time()
    value = new_id()
    after = time.time()
    assert len(value) == 26
    parsed = ULID.from_str(value)
    assert str(parsed) == value  # the same text python-ulid makes of the same bits
    assert before - 0.001 <= parsed.timestamp <= after + 0.001


def test_ids_sort_in_the_order_made_within_a_millisecond():
    ids = [new_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_interleave_monotonically_with_python_ulid():
    made = []
    for _ in range(2_000):
        made += [new_id(), str(ULID())]
    assert made == sorted(made)


def test_encoding_of_known_bits():
    for raw in (bytes(16), b"\xff" * 16, bytes(range(16))):
        value = int.from_bytes(raw)
        assert _time_text(value >> 80) + _randomness_text(value & (2**80 - 1)) == str(ULID.from_bytes(raw))
