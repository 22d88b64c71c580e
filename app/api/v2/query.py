"""The v2 `q` filter language, parsed into the filters every dialect shares (filters.py).

`q=type:app.crash;actee:X` - every q parameter and every `;`-separated clause is ANDed; `;;` is
a literal `;`. A clause is key, operator, value, split at the leftmost operator.
"""
import re
from datetime import date
from typing import NamedTuple

from app.base.errors import ApiError
from app.base.fields import parse_time, time_pattern
from app.store.filters import ONE_SECOND, AtSeconds, Compare, During, OneOf

# The leftmost of these splits a clause; values may contain ':' (timestamps) or other operators.
_OPERATOR = re.compile(r":|>=|<=|<|>| IN ")
_ESCAPED_SEMICOLON = "\x00"
# A raw '+' in a URL arrives as a space: "…T10:00:00 04:00" meant "…T10:00:00+04:00".
OFFSET_SIGNS = "+ -"
TIME_FORM = re.compile(time_pattern(date.min.year, date.max.year, OFFSET_SIGNS))
_SPACE_FOR_PLUS_OFFSET = re.compile(r"^(.*[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?) ([0-9]{2}(?::?[0-9]{2})?)$")


class Clause(NamedTuple):
    key: str
    operator: str  # one of ":", ">=", "<=", "<", ">", " IN "
    value: str


def split_clauses(q_values):
    """Split q parameters into clause strings: ';' separates, ';;' is a literal ';'."""
    clauses = []
    for q in q_values:
        parts = q.replace(";;", _ESCAPED_SEMICOLON).split(";")
        # "a:1;" ends in an empty clause, and "q=" alone is no filter at all.
        if parts and parts[-1] == "":
            parts.pop()
        clauses.extend(part.replace(_ESCAPED_SEMICOLON, ";") for part in parts)
    return clauses


def parse(q_values, allowed_keys):
    """Parse q parameters into clauses, refusing keys the endpoint does not filter on."""
    if any("\x00" in q for q in q_values):
        raise ApiError("BadQueryParameter", "q")
    parsed = []
    for text in split_clauses(q_values):
        match = _OPERATOR.search(text)
        key = text[: match.start()] if match else text
        # Keys are compared exactly: "Type" or " type" is not "type".
        if key not in allowed_keys or match is None:
            raise ApiError("BadQueryParameter", key)
        parsed.append(Clause(key, match.group(), text[match.end():]))
    return parsed


def parse_timestamp(value):
    """Parse a time of the service's grammar (fields.time_pattern; UTC when it names no offset), truncated to
    its whole second."""
    try:
        if not TIME_FORM.fullmatch(value):
            raise ValueError(value)
        # A time the store cannot hold is refused too: no stored event could be compared with it.
        moment = parse_time(_SPACE_FOR_PLUS_OFFSET.sub(r"\1+\2", value))
    except ValueError:
        raise ApiError("BadQueryParameter", value) from None
    return moment.replace(microsecond=0)


def timestamp_range(operator, value):
    """The [since, until) range a timestamp clause names (None: unbounded); not for IN or an empty value.

    Stored times keep their sub-second part but readers only ever see whole seconds, so a value
    names the whole second [T, T+1s): ':' matches inside it, '>' starts after it, '<=' ends with it.
    """
    t = parse_timestamp(value)
    return {
        ":": (t, t + ONE_SECOND),
        ">=": (t, None),
        ">": (t + ONE_SECOND, None),
        "<": (None, t),
        "<=": (None, t + ONE_SECOND),
    }[operator]


def _timestamp_filter(key, operator, value):
    if operator == " IN ":
        seconds = tuple(parse_timestamp(v) for v in value.split(",") if v != "")
        return AtSeconds(key, seconds) if seconds else OneOf(key, frozenset(), or_none=True)
    if value == "":
        return OneOf(key, frozenset(), or_none=True)
    return During(key, *timestamp_range(operator, value))


def _string_filter(key, operator, value):
    # An empty value means "no value": IS NULL, never a match on ''.
    if operator == " IN ":
        values = value.split(",")
        present = frozenset(v for v in values if v != "")
        return OneOf(key, present, or_none=len(present) < len(values))
    if value == "":
        return OneOf(key, frozenset(), or_none=True)
    if operator == ":":
        return OneOf(key, frozenset({value}))
    return Compare(key, operator, value)


def parse_filters(q_values, keys, time_keys=()):
    """The filters (filters.py) of q parameters, for an endpoint filtering on `keys` (store field names),
    of which `time_keys` are times."""
    return [(_timestamp_filter if clause.key in time_keys else _string_filter)(*clause)
            for clause in parse(q_values, keys)]
