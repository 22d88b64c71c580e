"""The JSON codec's rule for when orjson may read a text: the same answer as a search for 19 digits in a row."""
import random
import re

from app.base.codec import may_hold_long_integer

NINETEEN_DIGITS = re.compile(rb"[0-9]{19}")


def test_a_long_integer_is_found_exactly_where_nineteen_digits_run():
    rnd = random.Random(19)
    alphabet = b'0123456789 ,."-eE:{}[]x\xc3\xa9'
    for _ in range(20000):
        text = bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 60)))
        expected = bool(NINETEEN_DIGITS.search(text))
        assert may_hold_long_integer(text) is expected, text
        decoded = text.decode("utf-8", "replace")
        assert may_hold_long_integer(decoded) is bool(NINETEEN_DIGITS.search(decoded.encode())), decoded


def test_the_edges():
    assert may_hold_long_integer(b'{"n": 1234567890123456789}')
    assert not may_hold_long_integer(b'{"n": 123456789012345678}')
    assert may_hold_long_integer('{"n": -12345678901234567890}')
    assert not may_hold_long_integer("١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩")  # not JSON numbers: orjson reads no such digits
