"""/v2/events totals and deep pages from the maintained counts, instead of scans.

An exact COUNT over ten million events costs up to a second, and a page a million rows deep an
OFFSET scan as long. Triggers keep exact counts by type and UTC day, and by type and space or
organization (models.EventCountByDay, EventCountByTarget), so for a platform-wide reader (admin,
admin read-only, global auditor) filtering by type, by one of space_guid/organization_guid, or by
a time range:
- the total is a sum over at most a few hundred count rows (plus an exact count of the part of
  a day a time range cuts, which an index bounds to that day);
- page N starts at the day holding its first row, found by adding up days: the OFFSET that
  remains scans less than one day of events.
Anything else (actee, a space and a time range together, a reader who sees only some spaces) is
counted exactly, by pagination.fetch_page.
"""
from datetime import date, datetime, time, timedelta, timezone
from typing import NamedTuple

from sqlalchemy import BigInteger, cast, func, select, true

from .extensions import read
from .models import Event, EventCountByDay, EventCountByTarget
from .pagination import fetch_page, select_rows
from .query import timestamp_range
from .visibility import sees_every_event

ORDER_COLUMNS = (Event.timestamp, Event.id)
TARGETS = {"space_guid": "space", "organization_guid": "organization"}
ONE_DAY = timedelta(days=1)


class Day(NamedTuple):
    start: datetime
    end: datetime | None  # exclusive; None for the last day Python can name, which has no next one
    events: int

    @classmethod
    def of(cls, date_, events):
        start = datetime.combine(date_, time(), timezone.utc)
        # Writes refuse times past 9998, but a reader must survive any time the column holds.
        return cls(start, start + ONE_DAY if date_ < date.max else None, events)

    def until_end(self):
        """The condition that an event is no later than this day."""
        return true() if self.end is None else Event.timestamp < self.end

    def is_cut_by(self, since, until):
        """Whether the range [since, until) leaves out part of this day."""
        return bool((since and since > self.start) or (until and (self.end is None or until < self.end)))


class CountedFilter(NamedTuple):
    """A filter the counts can answer. None means unrestricted."""

    types: frozenset | None
    target: tuple | None  # ("space" or "organization", frozenset of guids)
    since: datetime | None
    until: datetime | None  # exclusive


def _values(clause):
    """The values a type or guid clause matches, when it is an equality or an IN without an empty value."""
    values = frozenset(clause.value.split(",")) if clause.operator == " IN " else frozenset({clause.value})
    if clause.operator in (":", " IN ") and "" not in values:
        return values
    return None


def counted_filter(clauses):
    """The filter the parsed q `clauses` make, if the counts can answer it; else None."""
    types = target = since = until = None
    for clause in clauses:
        if clause.key == "timestamp":
            if clause.operator == " IN " or clause.value == "":
                return None
            low, high = timestamp_range(clause.operator, clause.value)
            since = max(filter(None, (since, low)), default=None)
            until = min(filter(None, (until, high)), default=None)
            continue
        values = _values(clause) if clause.key == "type" or clause.key in TARGETS else None
        if values is None:
            return None
        if clause.key == "type":
            types = values if types is None else types & values
        elif target is None:
            target = (TARGETS[clause.key], values)
        elif target[0] == TARGETS[clause.key]:
            target = (target[0], target[1] & values)
        else:
            return None
    if target and (since or until):
        return None
    return CountedFilter(types, target, since, until)


def event_page(identity, clauses, conditions, paging):
    """(total_results, Rows of the page) of /v2/events; `conditions` are the SQL of `clauses` and visibility."""
    counted = counted_filter(clauses) if sees_every_event(identity) else None
    if counted is None:
        return fetch_page(Event, conditions, ORDER_COLUMNS, paging)
    if counted.target:
        total = _target_total(counted)
        rows = select_rows(Event, conditions, ORDER_COLUMNS, paging, paging.offset) if paging.offset < total else []
        return total, rows
    if paging.offset == 0 and not (counted.since or counted.until):
        # A first page needs only the total, one sum.
        total = _day_total(counted)
        return total, select_rows(Event, conditions, ORDER_COLUMNS, paging, 0) if total else []
    days = _days(counted, conditions)
    total = sum(day.events for day in days)
    if paging.offset >= total:
        return total, []
    descending = paging.order_direction == "desc"
    before = 0  # matching events in the days before the page's first day, in the page's direction
    for day in reversed(days) if descending else days:
        if before + day.events > paging.offset:
            break
        before += day.events
    from_first_day = day.until_end() if descending else Event.timestamp >= day.start
    return total, select_rows(Event, [*conditions, from_first_day], ORDER_COLUMNS, paging, paging.offset - before)


def _summed(counts):
    """The sum of a counts table's n (PostgreSQL sums bigints as numeric; 0 over no rows)."""
    return cast(func.coalesce(func.sum(counts.n), 0), BigInteger)


def _of_types(statement, counts, counted):
    return statement if counted.types is None else statement.where(counts.type.in_(counted.types))


def _target_total(counted):
    kind, guids = counted.target
    statement = select(_summed(EventCountByTarget)).where(
        EventCountByTarget.target_type == kind, EventCountByTarget.target_guid.in_(guids))
    return read(_of_types(statement, EventCountByTarget, counted)).scalar_one()


def _day_total(counted):
    return read(_of_types(select(_summed(EventCountByDay)), EventCountByDay, counted)).scalar_one()


def _days(counted, conditions):
    """The UTC days holding matching events, oldest first, each with its exact number of them.

    A day the time range covers only in part is counted among its events by `conditions`.
    """
    statement = _of_types(select(EventCountByDay.day, _summed(EventCountByDay)), EventCountByDay, counted)
    statement = statement.group_by(EventCountByDay.day)
    if counted.since:
        statement = statement.where(EventCountByDay.day >= counted.since.date())
    if counted.until:
        statement = statement.where(EventCountByDay.day <= (counted.until - timedelta.resolution).date())
    days = []
    for date_, n in read(statement.order_by(EventCountByDay.day)).all():
        day = Day.of(date_, n)
        if day.is_cut_by(counted.since, counted.until):
            day = day._replace(events=read(select(func.count()).select_from(Event).where(
                *conditions, Event.timestamp >= day.start, day.until_end())).scalar_one())
        if day.events:
            days.append(day)
    return days
