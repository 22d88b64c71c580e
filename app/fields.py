"""Marshmallow fields shared by the dialects' schemas: what the store can hold, and CC's time format."""
import re
from datetime import datetime, timezone

from marshmallow import ValidationError, fields

MAX_JSON_DEPTH = 32
# The times the store holds. Every Cloud Foundry event is later than 1970, and the upper bound leaves
# every stored time a next second and a next day, which a q filter's '>' and the counts' days need.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
END_OF_TIME = datetime(9999, 1, 1, tzinfo=timezone.utc)  # exclusive
GUID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


def check_text(value, max_length):
    """Raise ValidationError unless `value` is a string PostgreSQL can store in a varchar(max_length)."""
    if len(value) > max_length:
        raise ValidationError(f"Longer than maximum length {max_length}.")
    # PostgreSQL rejects NUL in text and lone surrogates cannot be encoded as UTF-8.
    if "\x00" in value:
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
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None
        try:
            return parse_time(value)
        except ValueError:
            raise self.make_error("range") from None


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
