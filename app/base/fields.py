"""Marshmallow fields shared by the dialects' schemas: what the store can hold, and CC's time format.

The grammars here (times, dates) are regular expressions built from the same bounds the checks use, so
that the OpenAPI document (app/api/openapi.py) states them as patterns that cannot drift from the code.
"""
import calendar
import re
from datetime import date, datetime, timedelta, timezone

from marshmallow import ValidationError, fields

MAX_JSON_DEPTH = 32
# The times the store holds. Every Cloud Foundry event is later than 1970, and the upper bound leaves
# every stored time a next second and a next day, which a q filter's '>' and the counts' days need.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
END_OF_TIME = datetime(9999, 1, 1, tzinfo=timezone.utc)  # exclusive
# The years whose every time the store holds (in UTC: an offset may carry a time on their first or last
# day outside, which parse_time refuses).
FIRST_YEAR, LAST_YEAR = EARLIEST_TIME.year, END_OF_TIME.year - 1
GUID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
# PostgreSQL refuses it in text: no stored value holds one, and no value holding one is looked up.
NUL = "\x00"


def alternatives(strings):
    """A regular expression matching exactly `strings` (of letters, digits, '-' and ':'), compact: a trie whose
    branches with the same rest share one character class (`1970`..`1979` is `197[0-9]`)."""
    trie = {}
    for text in strings:
        node = trie
        for char in text:
            node = node.setdefault(char, {})
        node[""] = {}
    return _trie_regex(trie)


def _trie_regex(node):
    rests = {}
    for char, child in sorted(node.items()):
        rests.setdefault(_trie_regex(child) if char else "", []).append(char)
    branches = [_char_class(chars) + rest for rest, chars in rests.items()]
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


def _char_class(chars):
    if chars == [""]:
        return ""
    if "" in chars:  # an end beside longer strings: never, for the fixed-width grammars here
        raise ValueError("strings of different lengths")
    if len(chars) == 1:
        return chars[0]
    runs, codes = [], [ord(char) for char in chars]
    for code in codes:
        if runs and code == runs[-1][1] + 1:
            runs[-1][1] = code
        else:
            runs.append([code, code])
    return "[" + "".join(chr(a) if a == b else f"{chr(a)}{chr(b)}" if b == a + 1 else f"{chr(a)}-{chr(b)}"
                         for a, b in runs) + "]"


def date_pattern(first_year, last_year):
    """YYYY-MM-DD of every calendar day of years `first_year` to `last_year` (29 February of leap years)."""
    years = [f"{year:04d}" for year in range(first_year, last_year + 1)]
    leap_years = [year for year in years if calendar.isleap(int(year))]
    days = [f"{date(2001, 1, 1) + timedelta(days=n):%m-%d}" for n in range(365)]
    return f"(?:{alternatives(years)}-{alternatives(days)}|{alternatives(leap_years)}-02-29)"


HOUR = alternatives(f"{hour:02d}" for hour in range(24))
SIXTY = "[0-5][0-9]"
CLOCK = f"{HOUR}:{SIXTY}:{SIXTY}"


def time_pattern(first_year, last_year, offset_signs="+-"):
    """The times the service reads (a write's timestamp, a v2 q value): RFC 3339 with 'T' or a space between
    date and time, any fraction of a second, and an offset as 'Z', ±hh, ±hhmm or ±hh:mm, or none (UTC)."""
    return (f"{date_pattern(first_year, last_year)}[T ]{CLOCK}(?:\\.[0-9]+)?"
            f"(?:Z|[{offset_signs}]{HOUR}(?::?{SIXTY})?)?")


# Every time the service reads has this form; parse_time then holds it to the store's bounds.
TIME_FORM = re.compile(time_pattern(date.min.year, date.max.year))


def check_text(value, max_length):
    """Raise ValidationError unless `value` is a string PostgreSQL can store in a varchar(max_length)."""
    if len(value) > max_length:
        raise ValidationError(f"Longer than maximum length {max_length}.")
    # PostgreSQL rejects NUL in text and lone surrogates cannot be encoded as UTF-8.
    if NUL in value:
        raise ValidationError("Must not contain NUL characters.")
    if value.isascii():  # most are, and ASCII encodes
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("Must be valid Unicode.") from None


class Text(fields.String):
    """A string of at most `max_length` characters that the store can hold; empty only if allowed."""

    def __init__(self, max_length=255, allow_empty=False, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length
        self.allow_empty = allow_empty

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if value == "" and not self.allow_empty:
            raise ValidationError("Must not be empty.")
        check_text(value, self.max_length)
        return value


class Guid(Text):
    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        # A guid is part of the resource's URL, so it must be usable as one path segment.
        if not GUID_PATTERN.match(value):
            raise ValidationError("Must contain only letters, digits, '.', '_', ':' and '-'.")
        return value


def check_json(value, depth=0):
    if depth > MAX_JSON_DEPTH:
        raise ValidationError(f"Must not be nested deeper than {MAX_JSON_DEPTH} levels.")
    if isinstance(value, str):
        check_text(value, max_length=len(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, max_length=len(key))
            check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_json(item, depth + 1)


class JsonObject(fields.Dict):
    """A JSON object of any content the store can hold (JSONB refuses NUL characters)."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        check_json(value)
        return value


def format_timestamp(value):
    """CC's time format: RFC 3339 in UTC, whole seconds."""
    if value is None:
        return None
    if value.utcoffset():
        value = value.astimezone(timezone.utc)
    # isoformat is several times faster than strftime, and a list page formats three times an event.
    return value.isoformat(timespec="seconds")[:19] + "Z"


def parse_time(text):
    """An aware UTC datetime from ISO 8601 text (UTC when it names no offset); ValueError if it is not
    one, or lies outside the times the store holds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{text} is beyond the times Python can hold") from None
    if not EARLIEST_TIME <= moment < END_OF_TIME:
        raise ValueError(f"{text} is outside the times the store holds")
    return moment


class Timestamp(fields.Field):
    """A time: read as ISO 8601 (UTC when it names no offset), written as CC does, in whole UTC seconds."""

    default_error_messages = {
        "invalid": "Not a valid ISO 8601 time.",
        "range": f"Must be between {EARLIEST_TIME:%Y-%m-%dT%H:%M:%SZ} and 9998-12-31T23:59:59Z.",
    }

    def _serialize(self, value, attr, obj, **kwargs):
        return format_timestamp(value)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not TIME_FORM.fullmatch(value):
            raise self.make_error("invalid")
        try:
            return parse_time(value)
        except ValueError:
            raise self.make_error("range") from None


_DECIMAL = re.compile(r"-?[0-9]+")


class Integer(fields.Integer):
    """An integer as the OpenAPI document's JSON Schema reads one: in a body (strict), a JSON number without a
    fraction, so 2.0 is 2; in a query, decimal digits (int() would also take spaces, '+', '_' and other
    scripts' digits)."""

    def _validated(self, value):
        if type(value) is float and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and not _DECIMAL.fullmatch(value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class NullAsEmpty(fields.String):
    """A string column that CC renders as "" when it holds nothing."""

    def _serialize(self, value, attr, obj, **kwargs):
        return "" if value is None else value


def is_storable(value, max_length=255):
    """Whether `value` could be stored in a varchar(max_length), and so could be looked up at all."""
    try:
        check_text(value, max_length)
    except ValidationError:
        return False
    return True
