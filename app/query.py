"""The v2 `q` filter language: parsing, and turning clauses into SQL conditions.

`q=type:app.crash;actee:X` - every q parameter and every `;`-separated clause is ANDed; `;;` is
a literal `;`. A clause is key, operator, value, split at the leftmost operator.
"""
import re
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import and_, or_

from .errors import ApiError
from .fields import parse_time
from .types import UTCDateTime

# The leftmost of these splits a clause; values may contain ':' (timestamps) or other operators.
_OPERATOR = re.compile(r":|>=|<=|<|>| IN ")
_ESCAPED_SEMICOLON = "\x00"
ONE_SECOND = timedelta(seconds=1)
# A raw '+' in a URL arrives as a space: "…T10:00:00 04:00" meant "…T10:00:00+04:00".
_SPACE_FOR_PLUS_OFFSET = re.compile(r"^(.*\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")


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
    """Parse an RFC 3339 / ISO 8601 time (UTC when it names no offset), truncated to its whole second."""
    text = _SPACE_FOR_PLUS_OFFSET.sub(r"\1+\2", value.strip())
    try:
        # A time the store cannot hold is refused too: no stored event could be compared with it.
        moment = parse_time(text)
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


def _timestamp_condition(column, operator, value):
    if operator == " IN ":
        seconds = [parse_timestamp(v) for v in value.split(",") if v != ""]
        if not seconds:
            return column.is_(None)
        return or_(*(and_(column >= t, column < t + ONE_SECOND) for t in seconds))
    if value == "":
        return column.is_(None)
    since, until = timestamp_range(operator, value)
    return and_(*([column >= since] if since else []), *([column < until] if until else []))


def _string_condition(column, operator, value):
    # An empty value means "no value": IS NULL, never a match on ''.
    if operator == " IN ":
        values = value.split(",")
        present = [v for v in values if v != ""]
        conditions = [column.in_(present)] if present else []
        if len(present) < len(values):
            conditions.append(column.is_(None))
        return or_(*conditions)
    if value == "":
        return column.is_(None)
    return {
        ":": lambda: column == value,
        ">=": lambda: column >= value,
        "<=": lambda: column <= value,
        "<": lambda: column < value,
        ">": lambda: column > value,
    }[operator]()


def conditions(clauses, columns):
    """SQL conditions for `clauses`; `columns` maps each filterable key to its column."""
    result = []
    for clause in clauses:
        column = columns[clause.key]
        if isinstance(column.type, UTCDateTime):
            result.append(_timestamp_condition(column, clause.operator, clause.value))
        else:
            result.append(_string_condition(column, clause.operator, clause.value))
    return result


def filter_conditions(q_values, columns):
    """Parse q parameters and return their SQL conditions, for an endpoint filtering on `columns`."""
    return conditions(parse(q_values, columns.keys()), columns)
