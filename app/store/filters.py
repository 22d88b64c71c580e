"""Filters as data: what every dialect's parameters mean, in one form.

Each dialect parses its own syntax (v2's `q=type IN a,b`, v3's `types=a,b&created_ats[gte]=T`) into
these few kinds; `conditions` turns them into SQL for any record kind, and the maintained counts
read them to decide whether they can answer a total (event_counts.counted_filter). Fields are the
store's attribute names (`type`, `actee`, `space_guid`, `timestamp`, ...), never wire names.
"""
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, false, not_, or_

ONE_SECOND = timedelta(seconds=1)


class OneOf(NamedTuple):
    """The field holds one of `values`; with `or_none`, holding no value matches too (v2's empty value)."""

    field: str
    values: frozenset
    or_none: bool = False


class NoneOf(NamedTuple):
    """The field holds a value, and none of `values` (v3's `[not]`, SQL's NOT IN)."""

    field: str
    values: frozenset


class Compare(NamedTuple):
    """v2's `q=type>x`: the field compares with `value` by `operator` ('<', '<=', '>' or '>=')."""

    field: str
    operator: str
    value: str


class During(NamedTuple):
    """The time lies in [since, until); None is unbounded."""

    field: str
    since: datetime | None
    until: datetime | None


class AtSeconds(NamedTuple):
    """The time lies in one of these whole seconds (each [T, T+1s)); none at all matches nothing."""

    field: str
    seconds: tuple


def _condition(spec, column):
    if isinstance(spec, OneOf):
        parts = ([column.in_(sorted(spec.values))] if spec.values else []) + (
            [column.is_(None)] if spec.or_none else [])
        return or_(*parts) if parts else false()
    if isinstance(spec, NoneOf):
        return not_(column.in_(sorted(spec.values))) if spec.values else column.is_not(None)
    if isinstance(spec, Compare):
        return {"<": column < spec.value, "<=": column <= spec.value, ">": column > spec.value,
                ">=": column >= spec.value}[spec.operator]
    if isinstance(spec, During):
        return and_(*([column >= spec.since] if spec.since else []), *([column < spec.until] if spec.until else []))
    if isinstance(spec, AtSeconds):
        return or_(*(and_(column >= t, column < t + ONE_SECOND) for t in spec.seconds)) if spec.seconds else false()
    raise TypeError(f"not a filter: {spec!r}")


def conditions(filters, columns):
    """SQL conditions for `filters`; `columns` maps each field a filter may name to its column."""
    return [_condition(spec, columns[spec.field]) for spec in filters]
