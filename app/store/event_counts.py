"""Audit-event totals and deep pages from the maintained counts, instead of scans.

An exact COUNT over ten million events costs up to a second, and a page a million rows deep an
OFFSET scan as long. Triggers keep exact counts by type and UTC day, and by type and space,
organization, actee, actor or actor name (models.EventCountByDay, EventCountByTarget), so for a
platform-wide reader (admin, admin read-only, global auditor) filtering by type, by one of those
fields, or by a time range:
- the total is a sum over at most a few hundred count rows (plus an exact count of the part of
  a day a time range cuts, which an index bounds to that day);
- page N in time order starts at the day holding its first row, found by adding up days: the
  OFFSET that remains scans less than one day of events.
Anything else (two of those fields, one of them and a time range, a reader who sees only some
spaces) is counted exactly, by pages.fetch_page.

In id order (v3's default) a time range bounds the ids too: the days it covers hold events with ids
between their first_id and last_id, so the walk of the ids starts where the range does.
"""
from datetime import date, datetime, time, timedelta, timezone
from typing import NamedTuple

from sqlalchemy import BigInteger, cast, false, func, select, true

from app.base.extensions import read

from .filters import During, OneOf
from .models import Event, EventCountByDay, EventCountByTarget
from .pages import fetch_page, select_rows

# The fields counted per value (the target types of EventCountByTarget).
TARGETS = {"space_guid": "space", "organization_guid": "organization", "actee": "actee", "actor": "actor",
           "actor_name": "actor_name"}
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


def counted_filter(filters):
    """The filter `filters` (filters.py) make, if the counts can answer it; else None."""
    types = target = since = until = None
    for spec in filters:
        if isinstance(spec, During) and spec.field == "timestamp":
            since = max(filter(None, (since, spec.since)), default=None)
            until = min(filter(None, (until, spec.until)), default=None)
            continue
        if not isinstance(spec, OneOf) or spec.or_none or not (spec.field == "type" or spec.field in TARGETS):
            return None
        if spec.field == "type":
            types = spec.values if types is None else types & spec.values
        elif target is None:
            target = (TARGETS[spec.field], spec.values)
        elif target[0] == TARGETS[spec.field]:
            target = (target[0], target[1] & spec.values)
        else:
            return None
    if target and (since or until):
        return None
    return CountedFilter(types, target, since, until)


def event_page(countable, filters, conditions, order, page):
    """(total, Rows of the page) of the audit events meeting `conditions` (`filters` and the reader's
    visibility) in `order` (columns). `countable`: the reader sees every event, so the counts of all
    events are theirs. Skipping whole days needs an order that starts with the time."""
    if order[0] is Event.id:
        conditions = [*conditions, *_id_bounds(filters)]
    counted = counted_filter(filters) if countable else None
    if counted is None:
        return fetch_page(Event, conditions, order, page)
    if counted.target:
        total = _target_total(counted)
    elif not (counted.since or counted.until):
        total = _day_total(counted)  # one sum
    else:
        days = _days(counted, conditions)
        total = sum(day.events for day in days)
    if page.offset >= total:
        return total, []
    if page.offset == 0 or counted.target or order[0] is not Event.timestamp:
        return total, select_rows(Event, conditions, order, page)
    if not (counted.since or counted.until):
        days = _days(counted, conditions)
    before = 0  # matching events in the days before the page's first day, in the page's direction
    for day in reversed(days) if page.descending else days:
        if before + day.events > page.offset:
            break
        before += day.events
    from_first_day = day.until_end() if page.descending else Event.timestamp >= day.start
    return total, select_rows(Event, [*conditions, from_first_day], order, page, page.offset - before)


def _id_bounds(filters):
    """Conditions on the id that the time ranges (and types) of `filters` imply, from the days' id bounds.

    They change no answer, only how the database finds it: without them a list in id order with a
    recent time range walks the ids from the oldest.
    """
    since = until = types = None
    for spec in filters:
        if isinstance(spec, During) and spec.field == "timestamp":
            since = max(filter(None, (since, spec.since)), default=None)
            until = min(filter(None, (until, spec.until)), default=None)
        elif isinstance(spec, OneOf) and spec.field == "type" and not spec.or_none:
            types = spec.values if types is None else types & spec.values
    if not (since or until):
        return []
    statement = select(func.min(EventCountByDay.first_id), func.max(EventCountByDay.last_id))
    if since:
        statement = statement.where(EventCountByDay.day >= since.date())
    if until:
        statement = statement.where(EventCountByDay.day <= (until - timedelta.resolution).date())
    if types is not None:
        statement = statement.where(EventCountByDay.type.in_(types))
    first, last = read(statement).one()
    if first is None:
        return [false()]  # no day of the range holds an event of these types
    return [Event.id >= first, Event.id <= last]


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
